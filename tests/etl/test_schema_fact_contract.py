"""A schema that cannot fill the fact table is refused in the admin, and stops an upload
with a readable message when it got that way some other way (a direct edit, a migration)."""

import pytest

from apps.etl.contract import FACT_INPUTS, fact_contract_problems
from apps.etl.models import SalesSchema, SchemaField
from apps.etl.pipeline.spec import DataType
from apps.etl.pipeline.transform import CANONICAL_INPUTS
from apps.uploads.models import Upload
from tests.etl.test_pipeline_rules import run_file
from tests.etl.test_schema_contract import _active, _change_form_data


def _field_index(schema: SalesSchema, name: str) -> int:
    return list(schema.fields.all()).index(schema.fields.get(name=name))


def _post_change(client, schema: SalesSchema, data: dict):
    return client.post(f"/admin/etl/salesschema/{schema.pk}/change/", data)


def _refusal(response) -> list[str]:
    assert response.status_code == 200, "the admin saved the schema"
    return [str(e) for fs in response.context["inline_admin_formsets"] for e in fs.formset.non_form_errors()]


def test_the_contract_lists_every_field_the_fact_table_is_built_from():
    assert set(FACT_INPUTS) == CANONICAL_INPUTS


def test_the_demo_schema_fills_the_fact_table(cast):
    assert fact_contract_problems(_active().fields.values_list("name", "data_type", "required")) == []


def test_admin_cannot_remove_quantity_from_the_active_schema(cast, client):
    client.force_login(cast["admin"])
    schema = _active()
    data = _change_form_data(schema, **{f"fields-{_field_index(schema, 'quantity')}-DELETE": "on"})

    errors = _refusal(_post_change(client, schema, data))

    assert "quantity is needed by the fact table: add it back (a whole number, required)." in errors
    assert schema.fields.filter(name="quantity").exists()
    assert SalesSchema.objects.count() == 1  # no version archived either


def test_admin_cannot_make_order_date_optional(cast, client):
    client.force_login(cast["admin"])
    schema = _active()
    data = _change_form_data(schema)
    del data[f"fields-{_field_index(schema, 'order_date')}-required"]

    errors = _refusal(_post_change(client, schema, data))

    assert "order_date is needed by the fact table: it must stay required and a date (now optional)." in errors
    assert schema.fields.get(name="order_date").required


def test_admin_cannot_change_the_type_of_a_canonical_field(cast, client):
    client.force_login(cast["admin"])
    schema = _active()
    data = _change_form_data(
        schema,
        **{
            f"fields-{_field_index(schema, 'quantity')}-data_type": DataType.STRING,
            f"fields-{_field_index(schema, 'customer_id')}-data_type": DataType.INTEGER,
        },
    )

    errors = _refusal(_post_change(client, schema, data))

    assert "quantity is needed by the fact table: it must stay required and a whole number (now text)." in errors
    assert "customer_id fills a column of the fact table: it must be text (now a whole number)." in errors
    assert schema.fields.get(name="quantity").data_type == DataType.INTEGER


def test_admin_cannot_add_a_field_named_like_a_computed_column(cast, client):
    client.force_login(cast["admin"])
    schema = _active()
    data = _change_form_data(schema)
    n = int(data["fields-TOTAL_FORMS"])
    data |= {"fields-TOTAL_FORMS": str(n + 1), f"fields-{n}-name": "is_return", f"fields-{n}-data_type": "string"}
    data |= {f"fields-{n}-position": "99", f"fields-{n}-schema": str(schema.pk)}

    errors = _refusal(_post_change(client, schema, data))

    assert any(e.startswith("is_return is a column the pipeline computes") for e in errors), errors


def test_a_draft_saves_with_a_warning_but_cannot_be_activated_until_it_fills_the_fact_table(cast, client):
    client.force_login(cast["admin"])
    live = _active()
    draft = SalesSchema.objects.create(name="draft", version=2)
    SchemaField.objects.create(schema=draft, name="order_date", data_type=DataType.DATETIME, required=True)
    data = _change_form_data(draft) | {"name": "draft"}
    del data["is_active"]

    response = client.post(f"/admin/etl/salesschema/{draft.pk}/change/", data, follow=True)

    texts = [str(m) for m in response.context["messages"]]
    assert "This version cannot be activated yet: quantity is needed by the fact table" in " ".join(texts), texts
    live.is_active = False
    live.save()

    errors = _refusal(_post_change(client, draft, data | {"is_active": "on"}))

    assert "unit_price is needed by the fact table: add it back (a decimal, required)." in errors
    draft.refresh_from_db()
    assert not draft.is_active


@pytest.mark.parametrize(
    ("break_schema", "reason"),
    [
        (lambda fields: fields.filter(name="quantity").delete(), "quantity is needed by the fact table: add it back"),
        (lambda fields: fields.filter(name="unit_price").delete(), "unit_price is needed by the fact table"),
        (
            lambda fields: fields.filter(name="order_date").update(required=False),
            "order_date is needed by the fact table: it must stay required and a date (now optional).",
        ),
        (
            lambda fields: fields.filter(name="quantity").update(data_type=DataType.STRING),
            "quantity is needed by the fact table: it must stay required and a whole number (now text).",
        ),
    ],
    ids=["quantity-removed", "unit_price-removed", "order_date-optional", "quantity-as-text"],
)
def test_an_upload_against_a_schema_broken_outside_the_admin_fails_with_the_reason(cast, sample, break_schema, reason):
    break_schema(SchemaField.objects.filter(schema=_active()))

    upload = run_file(cast, "US-NYC", sample("bernasiakk_usa.csv"))

    assert upload.status == Upload.Status.FAILED
    assert "cannot fill the fact table" in upload.message
    assert reason in upload.message
    assert "internal error" not in upload.message
