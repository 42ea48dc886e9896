from gateway.integration_verdicts import ActiveIntegration, IntegrationVerdicts

BOT = ActiveIntegration("int_1", "ws_1", "whsec_x")


def test_an_active_integration_is_remembered_while_fresh_and_forgotten_on_disable() -> None:
    asked: list[str] = []

    def look_up(integration_id: str) -> ActiveIntegration | None:
        asked.append(integration_id)
        return BOT

    verdicts = IntegrationVerdicts(fresh_seconds=60)
    assert verdicts.active("int_1", look_up) == verdicts.active("int_1", look_up) == BOT
    assert asked == ["int_1"]
    verdicts.forget("int_1")
    verdicts.active("int_1", look_up)
    assert asked == ["int_1", "int_1"]


def test_a_stale_verdict_asks_again_and_unknown_integrations_are_never_remembered() -> None:
    answers: list[ActiveIntegration | None] = [BOT, None, None]
    verdicts = IntegrationVerdicts(fresh_seconds=0)
    assert verdicts.active("int_1", lambda _: answers.pop(0)) == BOT
    assert verdicts.active("int_1", lambda _: answers.pop(0)) is None  # disabled elsewhere
    fresh = IntegrationVerdicts(fresh_seconds=60)
    assert fresh.active("int_1", lambda _: answers.pop(0)) is None
    assert fresh.active("int_1", lambda _: BOT) == BOT  # enabled: not late
