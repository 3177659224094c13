#!/usr/bin/env sh
# Create the onboarding namespace and register the run's search attributes on a real cluster.
# Uses the `temporal` CLI with its usual environment (TEMPORAL_ADDRESS, TEMPORAL_API_KEY, TLS...);
# compose and the Kubernetes Job run it in the temporalio/admin-tools image. Safe to run again.
#
#   TEMPORAL_NAMESPACE            the namespace (onboarding)
#   ONBOARDING_RETENTION          closed runs are kept this long (168h): it must cover the billing
#                                 system's redelivery window (Stripe: up to 3 days), so that a
#                                 late duplicate still finds the closed run and starts nothing
#   ONBOARDING_NAMESPACE_SETUP    "create" (default): wait for the cluster, create the namespace
#                                 or update its retention; "existing" (Temporal Cloud, where
#                                 namespaces are made in the Cloud console or with tcld): only
#                                 register the search attributes
#   TEMPORAL_WAIT_SECONDS         how long to wait for a starting cluster (180)
set -eu
NS="${TEMPORAL_NAMESPACE:-onboarding}"
RETENTION="${ONBOARDING_RETENTION:-168h}"
SETUP="${ONBOARDING_NAMESPACE_SETUP:-create}"
WAIT="${TEMPORAL_WAIT_SECONDS:-180}"

if [ "$SETUP" = "create" ]; then
  waited=0
  until temporal operator cluster health >/dev/null 2>&1; do
    if [ "$waited" -ge "$WAIT" ]; then
      echo "Temporal at ${TEMPORAL_ADDRESS:-localhost:7233} is not serving after ${WAIT}s" >&2
      exit 1
    fi
    sleep 3
    waited=$((waited + 3))
  done
  if temporal operator namespace describe --namespace "$NS" >/dev/null 2>&1; then
    temporal operator namespace update --namespace "$NS" --retention "$RETENTION"
  else
    temporal operator namespace create --namespace "$NS" --retention "$RETENTION"
  fi
fi

# A new namespace takes a few seconds to reach every frontend: list until it answers.
waited=0
until registered="$(temporal operator search-attribute list --namespace "$NS" 2>&1)"; do
  if [ "$waited" -ge "$WAIT" ]; then
    echo "cannot list the search attributes of $NS: $registered" >&2
    exit 1
  fi
  sleep 2
  waited=$((waited + 2))
done

# Keep in step with workflows/search_attributes.py (a test checks it).
for attr in \
  OnboardingStage=Keyword \
  OnboardingTier=Keyword \
  CustomerDomain=Keyword \
  CustomerName=Keyword \
  CaseOwner=Keyword \
  ExceptionCategory=Keyword \
  ExceptionOwner=Keyword \
  SlaDueAt=Datetime \
  RulesVersion=Keyword \
  OnboardingTeam=Keyword \
  SlaState=Keyword \
  OnboardingRelease=Int
do
  name="${attr%%=*}"
  type="${attr#*=}"
  if printf '%s\n' "$registered" | grep -qw "$name"; then
    echo "search attribute $name already registered"
  else
    temporal operator search-attribute create --namespace "$NS" --name "$name" --type "$type"
  fi
done
echo "namespace $NS ready (retention $RETENTION, setup $SETUP)"
