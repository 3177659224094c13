"""The workflow's history-changing releases, and how each is retired.

A run parks for days, so a new worker replays histories written by older code. Every change that
could alter the commands a run emits is guarded by one patch per release, checked once at the
start of a run: runs started under a release keep its behaviour until they end; a run already in
flight when workers upgrade keeps the previous release's behaviour, and the recorded histories
under ``tests/histories/`` prove that the new code still replays them.

Retiring a release's patch (``workflow.deprecate_patch``, then removing the old path):
1. when no open run started before it: ``temporal workflow count --query
   "ExecutionStatus = 'Running' AND OnboardingRelease IS NULL"`` (release 3; later releases:
   ``OnboardingRelease < N``) is 0 in every namespace;
2. replace ``workflow.patched(ID)`` with ``workflow.deprecate_patch(ID)`` and delete the old
   code path; drop the histories of older releases from the replay corpus;
3. one release later, remove the ``deprecate_patch`` call.
"""

from __future__ import annotations

#: Release 3: cancel from Temporal rolls back, every wait for a person is a queue item with its
#: row in the memo, the audit trail goes to the ledger, late events enrich the run, stage clocks
#: stay silent while a person is asked, rollback failures become items.
RELEASE_3 = "onboarding-release-3"
#: Release 4: fewer history events per run, none of them decisions: the older patches
#: (``sla-watch``, ``owner-routing``, release 3) are implied instead of recorded, the search
#: attributes a workflow task changes are written as one upsert, and the SLA watch keeps its
#: timer while the notice it waits for stays the same.
RELEASE_4 = "onboarding-release-4"
#: The release a run started under when none of the patches above applies.
BASE_RELEASE = 2
