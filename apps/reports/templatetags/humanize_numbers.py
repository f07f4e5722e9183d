from django import template

register = template.Library()


@register.filter
def thousands(value) -> str:
    return f"{int(value or 0):,}"


@register.filter
def money(value) -> str:
    return f"{float(value or 0):,.2f}"
