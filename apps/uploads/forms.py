from django import forms

from apps.accounts.models import Shop
from apps.uploads.models import Upload
from apps.uploads.selectors import UploadFilter


class UploadForm(forms.Form):
    shop = forms.ModelChoiceField(queryset=Shop.objects.none(), empty_label=None)
    file = forms.FileField(help_text="CSV, TSV, XLSX or XLS.")
    # A corrected file for an earlier upload: its rows replace that upload's in the warehouse.
    replaces = forms.UUIDField(required=False, widget=forms.HiddenInput)
    on_duplicate = forms.ChoiceField(
        choices=[("ask", "Ask me"), ("replace", "Replace the earlier upload"), ("cancel", "Cancel")],
        required=False,
        initial="ask",
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, shops, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = shops


class DecisionForm(forms.Form):
    choice = forms.ChoiceField(choices=[("replace", "Replace"), ("cancel", "Cancel")])


class PlausibilityForm(forms.Form):
    choice = forms.ChoiceField(choices=[("confirm", "Confirm, load it"), ("cancel", "Cancel")])


class UploadFilterForm(forms.Form):
    status = forms.ChoiceField(required=False)
    shop = forms.ChoiceField(required=False)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, shop_codes: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "Any status"), *Upload.Status.choices]
        self.fields["shop"].choices = [("", "Any shop"), *((c, c) for c in shop_codes)]

    def filters(self) -> UploadFilter:
        """What the user asked for; a value that does not validate is ignored, not an error."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return UploadFilter(
            status=data.get("status") or "",
            shop=data.get("shop") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
