from django.db import migrations


def load_aliases(apps, schema_editor):
    from apps.etl.countries import alias_rows

    CountryAlias = apps.get_model("etl", "CountryAlias")
    existing = set(CountryAlias.objects.values_list("alias", flat=True))
    CountryAlias.objects.bulk_create(
        [CountryAlias(alias=alias, country_code=code) for alias, code in alias_rows() if alias not in existing]
    )


class Migration(migrations.Migration):
    dependencies = [("etl", "0001_initial")]
    operations = [migrations.RunPython(load_aliases, migrations.RunPython.noop)]
