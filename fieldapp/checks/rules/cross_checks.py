"""Cross-checks: members' ID numbers matched against the newest batch of each registry kind.

A match is a suspected problem to verify on site, never a verdict: cars registered
in someone else's name and assets bought before marriage are known false hits.
Registry ID numbers are stored normalised, like the register's, so the match is
plain equality. A disability certificate number is matched by its first 18
characters, the holder's ID number.
"""

from collections.abc import Callable, Sequence

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnCollection,
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from fieldapp.checks.models import (
    BUSINESS,
    DECEASED,
    DIBAO,
    HOUSING,
    PAYROLL,
    STANDARD_KINDS,
    VEHICLE,
    RegistryBatch,
    RegistryRecord,
)
from fieldapp.checks.rules.base import HIGH, MEDIUM, BatchInUse, Rule, RunContext, register, sql_format
from fieldapp.checks.rules.id_numbers import DISABILITY_ID_TYPES
from fieldapp.idnumbers import CHECK_CHARACTERS, WEIGHTS
from fieldapp.register.models import Household, Member

CROSS_FIELDS = ("Member.id_number",)


def _name_differs() -> ColumnElement[int]:
    return case((and_(RegistryRecord.name != "", RegistryRecord.name != Member.name), 1), else_=0)


def _matches(context: RunContext, batches: list[BatchInUse], *conditions,
             kind: str | ColumnElement | None = None, extra_columns: tuple = ()) -> Select:
    """Select members in scope whose ID number is in one of the batches, a row per matching registry row.

    A batch matches only the members of households it covers. ``kind`` names the registry
    kind of every batch, or is an expression for it; without it, each row reads its batch's kind.
    """
    batch_ids = [batch.id for batch in batches]
    if kind is None:
        kind_column = RegistryBatch.kind
    else:
        kind_column = literal(kind) if isinstance(kind, str) else kind
    columns = (
        Member.household_id.label("household_id"),
        Member.id.label("member_id"),
        RegistryRecord.id.label("registry_record_id"),
        RegistryRecord.fingerprint.label("evidence_key"),
        kind_column.label("kind"),
        RegistryRecord.summary.label("summary"),
        _name_differs().label("name_differs"),
        *extra_columns,
    )

    # The scope is an EXISTS rather than a join. With the join, SQLite (3.40) went through every household
    # in scope and each of its members, instead of from the registry rows to the few members they match.
    in_scope = exists().where(Household.id == Member.household_id, context.scope, *_covered(batches))

    def joined(member_id_number) -> Select:
        stmt = (
            select(*columns)
            .select_from(Member)
            .join(RegistryRecord, RegistryRecord.id_number == member_id_number)
            .where(RegistryRecord.batch_id.in_(batch_ids), in_scope, *conditions)
        )
        if kind is None:
            stmt = stmt.join(RegistryBatch, RegistryRecord.batch_id == RegistryBatch.id)
        return stmt

    by_id = joined(Member.id_number)
    if not batch_ids:
        # No rows, but the columns that ``Rule.describe_sql`` reads.
        return by_id.where(false())
    others = []
    if context.has_certificates:
        others.append(joined(func.substr(Member.id_number, 1, 18)).where(is_certificate()))
    if context.has_first_generation_ids:
        others.append(joined(widened_id(Member.id_number)).where(is_first_generation()))
    return by_id.union_all(*others) if others else by_id


def _covered(batches: list[BatchInUse]) -> list[ColumnElement[bool]]:
    """Return the condition that each registry record's batch covers the household, as a list of none or one.

    The list is empty when every batch covers every division, as batches imported on the command line do.
    """
    areas = [(batch.id, batch.covers()) for batch in batches]
    if all(area is None for _batch_id, area in areas):
        return []
    return [or_(*(RegistryRecord.batch_id == batch_id if area is None else
                  and_(RegistryRecord.batch_id == batch_id, area) for batch_id, area in areas))]


def is_first_generation() -> ColumnElement[bool]:
    """Test whether the member's number is a 15-digit first-generation resident ID."""
    return func.length(Member.id_number) == 15


def widened_id(id_number: ColumnElement[str]) -> ColumnElement[str]:
    """Build in SQL the 18-character form of a 15-digit ID number, as ``registries.widen_id`` does.

    "19" goes after the 6-digit region code, and the check character is computed from the 17 digits.
    """
    first17 = func.substr(id_number, 1, 6).concat("19").concat(func.substr(id_number, 7, 9))
    weighted = sum(cast(func.substr(first17, index + 1, 1), Integer) * weight
                   for index, weight in enumerate(WEIGHTS))
    return first17.concat(func.substr(CHECK_CHARACTERS, (weighted % 11) + 1, 1))


def is_certificate() -> ColumnElement[bool]:
    """Test whether the member's number is a 20-character disability certificate number."""
    return and_(Member.id_type.in_(DISABILITY_ID_TYPES), func.length(Member.id_number) == 20)


def _no_rows() -> Select:
    return select(
        null().cast(Integer).label("household_id"), null().cast(Integer).label("member_id")
    ).where(false())


def _evidence_message(kind: str, summary: str) -> str:
    return _("%(kind)s: %(summary)s", kind=kind, summary=summary)


def _evidence(values) -> str:
    return _evidence_message(values["kind"], values["summary"]) if values["summary"] else values["kind"]


def _describe_match(values) -> str:
    evidence = _evidence(values)
    if values.get("name_differs"):
        return _name_differs_message(evidence)
    return evidence


def _name_differs_message(evidence: str) -> str:
    return _("%(evidence)s. The name in the registry differs from the register.", evidence=evidence)


def _evidence_sql(columns: ColumnCollection) -> ColumnElement[str]:
    """Build ``_evidence`` in SQL, over the columns of ``_matches``."""
    with_summary = sql_format(_evidence_message, kind=columns.kind, summary=columns.summary)
    return case((columns.summary != "", with_summary), else_=columns.kind)


def _describe_match_sql(columns: ColumnCollection) -> ColumnElement[str]:
    """``_describe_match`` in SQL, over the columns of ``_matches``."""
    evidence = _evidence_sql(columns)
    return case((columns.name_differs == 1, sql_format(_name_differs_message, evidence=evidence)),
                else_=evidence)


def _describe_not_in_register(values) -> str:
    if values.get("name_differs"):
        return _name_differs_not_in_register_message(_evidence(values))
    return _not_in_register_message(_evidence(values))


def _describe_not_in_register_sql(columns: ColumnCollection) -> ColumnElement[str]:
    """Build ``_describe_not_in_register`` in SQL, over the columns of ``_matches``."""
    evidence = _evidence_sql(columns)
    both = sql_format(_name_differs_not_in_register_message, evidence=evidence)
    not_listed = sql_format(_not_in_register_message, evidence=evidence)
    return case((columns.name_differs == 1, both), else_=not_listed)


def _name_differs_not_in_register_message(evidence: str) -> str:
    return _("%(evidence)s. The name in the registry differs from the register, and the register does not "
             "record 低保 for this member.", evidence=evidence)


def _not_in_register_message(evidence: str) -> str:
    return _("%(evidence)s. The register does not record 低保 for this member.", evidence=evidence)


def _shared_matches(context: RunContext, rules: Sequence[Rule]) -> Select:
    """Select the hits of several match rules in one join of the members to every batch they read.

    Each row names its rule in the column ``rule_id``, found from the batch. One join
    reads the members once. A query per rule read them once per rule, which on
    PostgreSQL cost a scan of the members and of the households for each rule.
    """
    rule_of_batch: dict[int, str] = {}
    read: list[BatchInUse] = []
    conditions = []
    for rule in rules:
        for kind, batches in sorted(context.batches.items()):
            if kind != rule.registry_kind and (rule.registry_kind != "" or kind in STANDARD_KINDS):
                continue
            for batch in batches:
                rule_of_batch[batch.id] = rule.id
                read.append(batch)
                if rule.id in _MATCH_CONDITIONS:
                    conditions.append(or_(RegistryRecord.batch_id != batch.id, _MATCH_CONDITIONS[rule.id]()))
    if not rule_of_batch:
        return _matches(context, [], kind="", extra_columns=(literal("").label("rule_id"),))
    kind = case({batch.id: batch.kind for batch in read}, value=RegistryRecord.batch_id)
    rule_id = case(rule_of_batch, value=RegistryRecord.batch_id).label("rule_id")
    return _matches(context, read, *conditions, kind=kind, extra_columns=(rule_id,))


def _kind_rule(rule_id: str, kind: str, name, description, severity: int) -> Rule:
    return register(Rule(
        id=rule_id,
        name=name,
        description=description,
        severity=severity,
        fields=CROSS_FIELDS,
        query=lambda context: _matches(context, _of_kind(context, kind), kind=kind),
        describe=_describe_match,
        describe_sql=_describe_match_sql,
        shared_query=_shared_matches,
        family="cross",
        registry_kind=kind,
    ))


def _of_kind(context: RunContext, kind: str) -> list[BatchInUse]:
    return context.batches.get(kind, [])


_kind_rule("cross_vehicle", VEHICLE, _l("Owns a vehicle"),
           _l("The member is listed as the owner of a vehicle in the vehicle registry (车辆)."), MEDIUM)
_kind_rule("cross_housing", HOUSING, _l("Owns commercial housing"),
           _l("The member is listed as the owner of housing in the real-estate registry (房产)."), MEDIUM)
_kind_rule("cross_business", BUSINESS, _l("Registered a business"),
           _l("The member is listed in the business registry (工商登记)."), MEDIUM)
_kind_rule("cross_payroll", PAYROLL, _l("On the public payroll"),
           _l("The member is listed on the public payroll (财政供养)."), HIGH)
_kind_rule("cross_deceased", DECEASED, _l("Registered as deceased"),
           _l("The member is listed in the register of deaths (死亡人员) but still in the household."), HIGH)


# -- 低保 in both directions --------------------------------------------------


def _not_receiving_dibao() -> ColumnElement[bool]:
    return or_(Member.receives_dibao.is_(None), Member.receives_dibao.is_(False))


# Conditions on the member that a match rule adds to the match, by rule id.
_MATCH_CONDITIONS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "cross_dibao_registry_only": _not_receiving_dibao,
}


register(Rule(
    id="cross_dibao_registry_only",
    name=_l("低保 in the registry but not in the register"),
    description=_l("The 低保 registry lists the member, but the register does not record 低保 for them."),
    severity=MEDIUM,
    fields=("Member.id_number", "Member.receives_dibao"),
    query=lambda context: _matches(context, _of_kind(context, DIBAO), _not_receiving_dibao(), kind=DIBAO),
    describe=_describe_not_in_register,
    describe_sql=_describe_not_in_register_sql,
    shared_query=_shared_matches,
    family="cross",
    registry_kind=DIBAO,
))


def _register_only_query(context: RunContext) -> Select:
    batches = _of_kind(context, DIBAO)
    if not batches:
        return _no_rows()
    # A select per batch: each judges the households it covers by its own records.
    return union_all(*(_register_only_in(context, batch) for batch in batches))


def _register_only_in(context: RunContext, batch: BatchInUse) -> Select:
    listed = exists().where(RegistryRecord.batch_id == batch.id, RegistryRecord.id_number == Member.id_number)
    # A disability certificate holder is listed under the certificate's first 18 characters, their ID number.
    holder = func.substr(Member.id_number, 1, 18)
    listed_as_holder = exists().where(RegistryRecord.batch_id == batch.id, RegistryRecord.id_number == holder)
    listed = listed | (is_certificate() & listed_as_holder)
    if context.has_first_generation_ids:
        widened = RegistryRecord.id_number == widened_id(Member.id_number)
        listed_widened = exists().where(RegistryRecord.batch_id == batch.id, widened)
        listed = listed | (is_first_generation() & listed_widened)
    area = batch.covers()
    # The scope is an EXISTS rather than a join, so that SQLite (3.40) scans the members once instead of
    # reaching each member of each household in scope through the household index, which took 2 to 3
    # times as long (bench/checks.py).
    in_scope = exists().where(Household.id == Member.household_id, context.scope,
                              *([area] if area is not None else []))
    return (
        select(
            Member.household_id.label("household_id"),
            Member.id.label("member_id"),
            literal(DIBAO).label("kind"),
            literal(batch.data_date).label("data_date"),
        )
        .where(Member.receives_dibao.is_(True), in_scope, ~listed)
    )


register(Rule(
    id="cross_dibao_register_only",
    name=_l("低保 in the register but not in the registry"),
    description=_l("The register records 低保 for the member, but the newest 低保 registry does not list "
                   "them. Runs only when a 低保 registry has been imported."),
    severity=MEDIUM,
    fields=("Member.id_number", "Member.receives_dibao"),
    query=_register_only_query,
    describe=lambda values: _("The register records 低保 for this member, but the %(kind)s registry of "
                              "%(date)s does not list them.", kind=values["kind"], date=values["data_date"]),
    family="cross",
    registry_kind=DIBAO,
))


# -- custom kinds ------------------------------------------------------------


def _custom_query(context: RunContext) -> Select:
    batches = [batch for kind, kind_batches in context.batches.items() if kind not in STANDARD_KINDS
               for batch in kind_batches]
    return _matches(context, batches)


register(Rule(
    id="cross_custom",
    name=_l("Listed in a custom registry"),
    description=_l("The member is listed in a registry of a kind an administrator added."),
    severity=MEDIUM,
    fields=CROSS_FIELDS,
    query=_custom_query,
    describe=_describe_match,
    describe_sql=_describe_match_sql,
    shared_query=_shared_matches,
    family="cross",
    registry_kind="",
))
