"""The typed search attributes of an onboarding run: the exception queue is a visibility query.

The dev-server launcher and the tests register every key in :data:`ALL`; on a real cluster,
``deploy/`` registers them with ``temporal operator search-attribute create``.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("OnboardingStage")
TIER = SearchAttributeKey.for_keyword("OnboardingTier")
CUSTOMER_DOMAIN = SearchAttributeKey.for_keyword("CustomerDomain")
CUSTOMER_NAME = SearchAttributeKey.for_keyword("CustomerName")
CASE_OWNER = SearchAttributeKey.for_keyword("CaseOwner")
EXCEPTION_CATEGORY = SearchAttributeKey.for_keyword("ExceptionCategory")
EXCEPTION_OWNER = SearchAttributeKey.for_keyword("ExceptionOwner")
SLA_DUE_AT = SearchAttributeKey.for_datetime("SlaDueAt")
RULES_VERSION = SearchAttributeKey.for_keyword("RulesVersion")
TEAM = SearchAttributeKey.for_keyword("OnboardingTeam")
SLA_STATE = SearchAttributeKey.for_keyword("SlaState")
#: The workflow release a run started under (absent: before release 3); see workflows/versions.py.
RELEASE = SearchAttributeKey.for_int("OnboardingRelease")

#: The memo key holding a waiting run's open item, whole: what the queue shows without querying
#: the run (kept here, beside the search attributes, so the queue reads it without importing the
#: workflow).
QUEUE_MEMO = "exception"

ALL: tuple[SearchAttributeKey, ...] = (  # type: ignore[type-arg]
    STAGE,
    TIER,
    CUSTOMER_DOMAIN,
    CUSTOMER_NAME,
    CASE_OWNER,
    EXCEPTION_CATEGORY,
    EXCEPTION_OWNER,
    SLA_DUE_AT,
    RULES_VERSION,
    TEAM,
    SLA_STATE,
    RELEASE,
)
