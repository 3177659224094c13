#!/usr/bin/env sh
# Create the onboarding namespace and register the run's search attributes on a real cluster.
# Uses the `temporal` CLI with its usual environment (TEMPORAL_ADDRESS, TEMPORAL_API_KEY, TLS...).
# Retention must cover the billing system's redelivery window (Stripe: up to 3 days).
set -eu
NS="${TEMPORAL_NAMESPACE:-onboarding}"
RETENTION="${ONBOARDING_RETENTION:-168h}"

temporal operator namespace describe --namespace "$NS" >/dev/null 2>&1 \
  || temporal operator namespace create --namespace "$NS" --retention "$RETENTION"
temporal operator namespace update --namespace "$NS" --retention "$RETENTION"

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
  name="${attr%%=*}"; type="${attr#*=}"
  temporal operator search-attribute create --namespace "$NS" --name "$name" --type "$type" \
    2>/dev/null || echo "search attribute $name already registered"
done
echo "namespace $NS ready (retention $RETENTION)"
