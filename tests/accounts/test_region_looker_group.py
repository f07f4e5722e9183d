"""A region's Looker group (issue 19, point 6): the Google group its BigQuery row access
policy is granted to, edited by an admin on the region."""

from django.urls import reverse

from apps.accounts.models import Region


def test_the_admin_lists_and_edits_a_regions_looker_group(cast, client):
    client.force_login(cast["admin"])
    uk = Region.objects.get(country_code="GB")
    Region.objects.filter(pk=uk.pk).update(looker_group="uk-heads@example.com")

    listing = client.get(reverse("admin:accounts_region_changelist")).content.decode()
    assert "Looker group" in listing and "uk-heads@example.com" in listing

    url = reverse("admin:accounts_region_change", args=[uk.pk])
    form = {
        "name": uk.name,
        "country_code": uk.country_code,
        "currency": uk.currency,
        "date_order": uk.date_order,
        "view_name": uk.view_name,
    }
    refused = client.post(url, form | {"looker_group": "uk heads"})
    assert refused.status_code == 200 and "Enter a valid email address." in refused.content.decode()
    assert client.post(url, form | {"looker_group": "uk-sales@example.com"}).status_code == 302
    uk.refresh_from_db()
    assert uk.looker_group == "uk-sales@example.com"
