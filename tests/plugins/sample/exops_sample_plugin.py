"""A third-party check: counts administrative groups, registered exactly like the built-ins."""
from exops.facts import DirectoryFacts
from exops.model import Finding, Severity
from exops.registry import check


@check("SAMPLE-AG-COUNT", title="Administrative groups counted by a plugin",
       needs=(DirectoryFacts,), area="sample")
def count_admin_groups(directory: DirectoryFacts):
    yield Finding(check_id="SAMPLE-AG-COUNT", severity=Severity.INFO, target=directory.source,
                  summary=f"{len(directory.admin_groups)} administrative groups")
