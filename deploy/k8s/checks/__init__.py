"""Offline checks on one rendered overlay (`kustomize build deploy/k8s/overlays/<name>`).

Run by deploy/k8s/check.sh as `python -m deploy.k8s.checks` from the repository root (see
__main__.py); needs PyYAML, and kubernetes-validate for the schema check.

What it asserts, besides "every object parses", one module per concern:
- objects: built-in kinds validate against the Kubernetes OpenAPI schema (strict: unknown
  fields fail); one namespace, the v1 APIs of the operators;
- workloads, security, probes: every pod template has the restricted securityContext,
  requests and limits, startup/liveness/readiness probes on named ports, an image pinned to a
  tag that is not `latest`, a writable /tmp from an emptyDir, no service-account token, no
  service links;
- references: every Secret/ConfigMap a pod or Ingress names exists: rendered, written by an
  operator for an object in the render (CloudNativePG's `<cluster>-app`), or listed with its
  keys in the overlay's external-secrets.txt (and every line there is still used); env
  `$(VAR)` references point at variables defined earlier in the same container;
- networking, availability, monitoring: Services, Ingresses, HPAs, PDBs and the
  ServiceMonitor select/target what exists;
- kafka, topics: Kafka topics equal services/common/contracts/topics.py (+ `.dlq`),
  partitions/replicas agree with QUNYUN_KAFKA_* in the ConfigMap and fit the broker count;
- postgres: each process's database Cluster bootstraps `qunyun_<process>`;
- monitoring: alert and dashboard expressions only use qunyun_* series defined in
  services/common/observability.py, and the required alerts are there;
- availability, with --ha: several replicas (or an HPA), a PDB and spread constraints per
  Deployment, Kafka with >= 3 brokers / RF 3 / min ISR 2, Postgres with >= 2 instances.

The project's own files (topics.py, observability.py) are read as text under --repo, never
imported: the checker runs in its own small venv without the project's dependencies.
"""
