from django.db import migrations


def load_aliases(apps, schema_editor):
    from apps.etl.countries import country_aliases_seed

    country_aliases_seed(apps.get_model("etl", "CountryAlias"))


class Migration(migrations.Migration):
    dependencies = [("etl", "0001_initial")]
    operations = [migrations.RunPython(load_aliases, migrations.RunPython.noop)]
