"""Which fact rows a scope reads, as SQL: in the app's report reads and in BigQuery's row
access policies, from the same function.

The reports bind the scope's values as parameters (`scope_predicate`). Outside the app
(Looker Studio reading BigQuery with each viewer's own credentials) the same predicate is a
row access policy on `orders-cleaned`, one per region, granted to the region's Google group,
with the values written in (a policy's filter takes no parameters): its members read what
the region's head reads in the app. The app's service account (and BIGQUERY_ALL_ROWS_MEMBERS)
get the TRUE filter: once a table has a policy, whoever no policy names reads no row, and
DML needs the TRUE filter.
"""

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the BigQuery backend imports this module in processes without Django set up
    from apps.accounts.access import Scope
    from apps.accounts.models import Region

# The policies warehouse_sync makes (and so may drop): any other policy on the table is left alone.
ALL_ROWS_PREFIX = "app_all_rows_"
REGION_PREFIX = "region_"
MANAGED_PREFIXES = (ALL_ROWS_PREFIX, REGION_PREFIX)
# Shop codes and country codes as their validators allow them: safe inside '...' in
# GoogleSQL and DuckDB alike (no quote, no backslash).
_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}")
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# An IAM member as GRANT TO takes it; nothing that could close the string literal.
_MEMBER = re.compile(r"(user|group|serviceAccount|domain):[A-Za-z0-9._%+@-]+")


def scope_predicate(scope: "Scope") -> tuple[str, dict[str, str]]:
    """The rows a scope sees, as a predicate over the fact table's columns.

    A row is seen when its shop is one of the scope's shops (a manager's; every shop of a
    head's regions, whatever the customer's country) or its country one of the scope's
    countries (a head's, whatever the shop); admins see everything, an empty scope nothing.
    One bound parameter per value.
    """
    if scope.everything:
        return "TRUE", {}
    clauses, params = [], {}
    for column, values, prefix in (
        ("country_code", scope.country_codes, "scope_country"),
        ("store_id", scope.shop_codes, "scope_shop"),
    ):
        if values:
            names = [f"{prefix}_{i}" for i in range(len(values))]
            params.update(zip(names, sorted(values), strict=True))
            clauses.append(f"{column} IN ({', '.join('$' + n for n in names)})")
    if not clauses:
        return "FALSE", {}
    return "(" + " OR ".join(clauses) + ")", params


def literal_predicate(scope: "Scope") -> str:
    """`scope_predicate` with its values written in as string literals (a row access
    policy's filter is DDL: no parameters). Refuses a value that is not a plain code."""
    sql, params = scope_predicate(scope)

    def literal(match: re.Match) -> str:
        value = params[match.group(1)]
        if not _CODE.fullmatch(value):
            raise ValueError(f"Not a shop or country code, not written into a policy: {value!r}")
        return f"'{value}'"

    return _PARAMETER.sub(literal, sql)


@dataclass(frozen=True)
class RowAccessPolicy:
    """One row access policy on the fact table: who (IAM members) reads which rows."""

    name: str
    grantees: tuple[str, ...]
    predicate: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,127}", self.name):
            raise ValueError(f"Bad row access policy name: {self.name!r}")
        for member in self.grantees:
            if not _MEMBER.fullmatch(member):
                raise ValueError(f"Not an IAM member (group:..., serviceAccount:..., user:...): {member!r}")
        if not self.grantees:
            raise ValueError(f"Row access policy {self.name} is granted to no one")


def _digest(members: Iterable[str]) -> str:
    # Google returns a policy's filter but not its grantees (input only): the name carries
    # them, so a changed group is a new policy (created, then the old one dropped).
    return hashlib.sha256("\n".join(sorted(members)).encode()).hexdigest()[:8]


def region_policy(region: "Region") -> RowAccessPolicy:
    """The region's policy: its group reads what the region's head reads in the app."""
    from apps.accounts.access import regional_head_scope

    members = (f"group:{region.looker_group.strip().lower()}",)
    predicate = literal_predicate(regional_head_scope([region.country_code]))
    return RowAccessPolicy(f"{REGION_PREFIX}{region.country_code.lower()}_{_digest(members)}", members, predicate)


def all_rows_policy(members: Sequence[str]) -> RowAccessPolicy:
    """The TRUE filter: the app's service account (it loads with DML and reads for every
    role) and whoever else must read every row, e.g. the admins' group."""
    unique = tuple(sorted(set(members)))
    return RowAccessPolicy(f"{ALL_ROWS_PREFIX}{_digest(unique)}", unique, "TRUE")


def row_access_policies(*, service_account: str, also_all_rows: Sequence[str] = ()) -> list[RowAccessPolicy]:
    """Every policy the fact table should have: the TRUE filter first, then one per region
    that names a Looker group (a region without one gets none: no group reads its rows)."""
    account = service_account.strip()
    if not account:
        raise ValueError(
            "BIGQUERY_SERVICE_ACCOUNT is not set: once the table has a row access policy, the app's own "
            "account would read no row and could not load. Set it to the app's service account e-mail."
        )
    # An e-mail is the service account's; a member written out (user:..., group:...) is taken as it is.
    member = account if ":" in account else f"serviceAccount:{account}"
    from apps.accounts.models import Region

    policies = [all_rows_policy([member, *(m.strip() for m in also_all_rows if m.strip())])]
    regions = Region.objects.exclude(looker_group="").order_by("country_code")
    return policies + [region_policy(r) for r in regions]
