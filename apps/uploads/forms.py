from django import forms

from apps.accounts.models import Shop


class UploadForm(forms.Form):
    shop = forms.ModelChoiceField(queryset=Shop.objects.none(), empty_label=None)
    file = forms.FileField(help_text="CSV, TSV, XLSX or XLS.")

    def __init__(self, *args, shops, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = shops
