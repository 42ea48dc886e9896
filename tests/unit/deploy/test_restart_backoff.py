from deploy.local.processes import RestartBackoff


def test_a_crashing_process_waits_longer_each_time_up_to_a_bound() -> None:
    backoff = RestartBackoff(first_seconds=1, most_seconds=8, stable_after_seconds=60)
    assert [backoff.after_exit(ran_seconds=2) for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    assert backoff.restarts == 6


def test_a_process_that_ran_a_while_is_restarted_at_once_again() -> None:
    backoff = RestartBackoff(first_seconds=1, most_seconds=8, stable_after_seconds=60)
    backoff.after_exit(ran_seconds=2)
    backoff.after_exit(ran_seconds=2)
    assert backoff.after_exit(ran_seconds=600) == 1
