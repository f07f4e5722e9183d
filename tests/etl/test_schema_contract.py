"""The schema contract the admin manages: constraints, versions, new fields, previews."""

from decimal import Decimal

from apps.etl.models import SalesSchema, SchemaField
from apps.etl.pipeline.spec import DataType, FieldSpec
from apps.uploads.models import Upload
from tests.etl.stages import demo_spec, rows, run
from tests.etl.test_pipeline_rules import query, run_file

HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country,Channel\n"


def test_allowed_values_range_and_pattern_refuse_rows_with_their_own_reasons(tmp_path):
    spec = demo_spec(
        product_id=FieldSpec("product_id", DataType.STRING, True, ("StockCode",), pattern=r"[0-9]{5}[A-Z]?"),
        quantity=FieldSpec("quantity", DataType.INTEGER, True, ("Quantity",), max_value=Decimal(100)),
        unit_price=FieldSpec("unit_price", DataType.DECIMAL, True, ("UnitPrice",), min_value=Decimal("0.01")),
        channel=FieldSpec("channel", DataType.STRING, False, ("Channel",), allowed_values=("shop", "web")),
    )
    path = tmp_path / "c.csv"
    path.write_text(
        HEADER
        + "1,85123A,6,2011-04-19,2.55,France,Web\n"  # fine: allowed values ignore case
        + "2,POST,6,2011-04-19,2.55,France,shop\n"  # product code not 5 digits
        + "3,85123,600,2011-04-19,2.55,France,shop\n"  # quantity above 100
        + "4,85123,6,2011-04-19,2.55,France,phone\n"  # channel not allowed
    )

    result = run(path, tmp_path, spec=spec)

    assert result["checked"].errors_by_reason == {
        "above the maximum 100": 1,
        "does not match the pattern": 1,
        "not an allowed value": 1,
    }
    assert rows(result["con"], "SELECT source_row, channel FROM clean") == [(2, "Web")]


def _active() -> SalesSchema:
    return SalesSchema.objects.get(is_active=True)


def _change_form_data(schema: SalesSchema, **changes) -> dict:
    data = {"name": schema.name, "is_active": "on", "max_bad_row_pct": str(schema.max_bad_row_pct)}
    fields = list(schema.fields.all())
    data |= {
        "fields-TOTAL_FORMS": str(len(fields)),
        "fields-INITIAL_FORMS": str(len(fields)),
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
    }
    for i, f in enumerate(fields):
        prefix = f"fields-{i}-"
        data |= {
            prefix + "id": str(f.pk),
            prefix + "schema": str(schema.pk),
            prefix + "position": str(f.position),
            prefix + "name": f.name,
            prefix + "data_type": f.data_type,
            prefix + "aliases": f.aliases,
            prefix + "allowed_values": f.allowed_values,
            prefix + "min_value": "" if f.min_value is None else str(f.min_value),
            prefix + "max_value": "" if f.max_value is None else str(f.max_value),
            prefix + "pattern": f.pattern,
        }
        if f.required:
            data[prefix + "required"] = "on"
    return data | changes


def test_editing_the_active_schema_in_admin_makes_a_new_version_and_keeps_the_old(cast, client):
    client.force_login(cast["admin"])
    schema = _active()
    quantity = list(schema.fields.all()).index(schema.fields.get(name="quantity"))

    response = client.post(
        f"/admin/etl/salesschema/{schema.pk}/change/",
        _change_form_data(schema, **{f"fields-{quantity}-max_value": "1000"}),
    )

    assert response.status_code == 302
    live = _active()
    assert (live.pk, live.version) == (schema.pk, 2)
    assert live.fields.get(name="quantity").max_value == 1000
    old = SalesSchema.objects.get(version=1)
    assert not old.is_active
    assert old.fields.get(name="quantity").max_value is None
    assert old.fields.count() == live.fields.count()


def test_saving_the_active_schema_unchanged_keeps_its_version(cast, client):
    client.force_login(cast["admin"])
    schema = _active()

    client.post(f"/admin/etl/salesschema/{schema.pk}/change/", _change_form_data(schema))

    assert SalesSchema.objects.count() == 1
    assert _active().version == 1


def test_a_new_field_adds_a_nullable_column_without_losing_rows(cast, sample, tmp_path):
    first = run_file(cast, "US-NYC", sample("bernasiakk_usa.csv"))
    SchemaField.objects.create(schema=_active(), name="channel", data_type=DataType.STRING, aliases="Channel")
    path = tmp_path / "with_channel.csv"
    path.write_text(HEADER + "1,85123A,6,2011-04-19,2.55,USA,web\n2,85124,3,2011-04-20,1.5,USA,\n")

    second = run_file(cast, "US-NYC", path)

    assert second.status == Upload.Status.LOADED, second.message
    assert query(
        'SELECT count(*), count(channel) FROM "orders-cleaned" WHERE upload_id = $id', {"id": str(first.id)}
    ) == [(291, 0)]
    assert query(
        'SELECT channel FROM "USA_Sales_View" WHERE upload_id = $id ORDER BY source_row', {"id": str(second.id)}
    ) == [
        ("web",),
        (None,),
    ]


def test_the_preview_action_says_how_many_rows_a_changed_rule_would_reject(cast, sample, client):
    run_file(cast, "US-NYC", sample("bernasiakk_usa.csv"))
    schema = _active()
    SchemaField.objects.filter(schema=schema, name="quantity").update(min_value=Decimal(1))
    client.force_login(cast["admin"])

    response = client.post(
        "/admin/etl/salesschema/",
        {"action": "preview_recent_uploads", "_selected_action": [schema.pk]},
        follow=True,
    )

    texts = [str(m) for m in response.context["messages"]]
    assert any("bernasiakk_usa.csv" in t and "would reject 112 of 291 rows" in t for t in texts), texts
    assert query('SELECT count(*) FROM "orders-cleaned"') == [(291,)]  # nothing reloaded
