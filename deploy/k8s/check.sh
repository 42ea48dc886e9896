#!/usr/bin/env bash
# Offline validation of deploy/k8s (`make k8s-check`): render every overlay with a pinned
# kustomize and check the output with the checks/ package (`python -m deploy.k8s.checks`).
# Nothing is sent to a cluster.
#
# Installs, once, into the repository's .cache/ (git-ignored):
#   .cache/bin/kustomize        go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION
#   .cache/k8s-check-venv/      python3 -m venv + check-requirements.txt (PyYAML,
#                               kubernetes-validate with the Kubernetes schemas)
# Renders go to .cache/k8s-rendered/<overlay>.yaml for inspection.
#
# Prints one line per overlay ("ok   <overlay>: ..." or "FAIL <overlay>: ..." after the
# problems) and exits non-zero if any overlay fails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="$ROOT/.cache"
KUSTOMIZE_VERSION="v5.8.2"
KUSTOMIZE="$CACHE/bin/kustomize"
VENV="$CACHE/k8s-check-venv"
REQUIREMENTS="$HERE/check-requirements.txt"
OUT="$CACHE/k8s-rendered"
# The Kubernetes version whose API schemas the built-in objects must satisfy (the oldest
# version the manifests target: matchLabelKeys in topology spread constraints, PDB
# unhealthyPodEvictionPolicy).
K8S_VERSION="${K8S_VERSION:-1.33.0}"
# Overlays that must also pass the availability rules (replicas, PDBs, HPA, Kafka RF 3, ...).
HA_OVERLAYS=" prod "
started=$SECONDS

if [[ ! -x "$KUSTOMIZE" || "$("$KUSTOMIZE" version 2>/dev/null)" != "$KUSTOMIZE_VERSION" ]]; then
  echo "k8s-check: installing kustomize $KUSTOMIZE_VERSION into .cache/bin (go install)" >&2
  mkdir -p "$CACHE/bin"
  GOBIN="$CACHE/bin" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS="" \
    go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi

want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [[ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
  echo "k8s-check: creating .cache/k8s-check-venv (pip, $(basename "$REQUIREMENTS"))" >&2
  rm -rf "$VENV"
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    -r "$REQUIREMENTS"
  echo "$want" > "$VENV/.requirements.sha256"
fi

mkdir -p "$OUT"
failed=0
checked=0

# The base alone is not deployable (no broker, no database), but it must build.
if ! "$KUSTOMIZE" build "$HERE/base" > "$OUT/base.yaml" 2> "$OUT/base.err"; then
  sed 's/^/  base: /' "$OUT/base.err"
  echo "FAIL base: kustomize build failed"
  failed=1
fi

for dir in "$HERE"/overlays/*/; do
  name="$(basename "$dir")"
  checked=$((checked + 1))
  if ! "$KUSTOMIZE" build "$dir" > "$OUT/$name.yaml" 2> "$OUT/$name.err"; then
    sed "s/^/  $name: /" "$OUT/$name.err"
    echo "FAIL $name: kustomize build failed"
    failed=1
    continue
  fi
  ha=()
  [[ "$HA_OVERLAYS" == *" $name "* ]] && ha=(--ha)
  # Run as a module from the repository root: the checks are a package with relative imports.
  if ! (cd "$ROOT" && "$VENV/bin/python" -m deploy.k8s.checks "$OUT/$name.yaml" \
      --overlay-dir "$dir" --repo "$ROOT" --k8s-version "$K8S_VERSION" "${ha[@]}"); then
    failed=1
  fi
done

if [[ $checked -eq 0 ]]; then
  echo "FAIL: no overlay under deploy/k8s/overlays"
  failed=1
fi
if [[ $failed -ne 0 ]]; then
  echo "k8s-check: FAILED ($((SECONDS - started)) s, kustomize $KUSTOMIZE_VERSION)"
  exit 1
fi
echo "k8s-check: $checked overlay(s) passed ($((SECONDS - started)) s, kustomize $KUSTOMIZE_VERSION)"
