"""Every URL pattern of the project, from the URL resolver, and a concrete URL for each."""

from dataclasses import dataclass

from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse


@dataclass(frozen=True)
class Route:
    key: str  # the URL name with its namespaces, or the pattern when it has no name
    pattern: str
    kwargs: tuple[str, ...]
    named: bool

    @property
    def is_admin(self) -> bool:
        return self.key.startswith("admin:") or self.pattern.startswith("admin/")


def routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", ""))


def _walk(patterns, prefix: str, namespace: str):
    for p in patterns:
        if isinstance(p, URLResolver):
            inner = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), inner)
        elif isinstance(p, URLPattern):
            pattern = prefix + str(p.pattern)
            kwargs = tuple(p.pattern.regex.groupindex)
            yield Route(f"{namespace}{p.name}" if p.name else pattern, pattern, kwargs, bool(p.name))


def admin_model_of(route: Route):
    """The model whose admin page this is (by its URL name `admin:<app>_<model>_<view>`)."""
    for model in admin.site._registry:
        meta = model._meta
        if route.key.startswith(f"admin:{meta.app_label}_{meta.model_name}_") or route.pattern.startswith(
            f"admin/{meta.app_label}/{meta.model_name}/"
        ):
            return model
    return None


def url_of(route: Route, values: dict[str, str]) -> str:
    """A concrete URL for the route, its arguments taken from `values` (by argument name),
    the object id of an admin page being some row of its model."""
    model = admin_model_of(route)
    if model is not None and {"object_id", "id"} & set(route.kwargs):
        first = model._default_manager.order_by("pk").first()  # .pk, not the column: TokenProxy's is its user's
        pk = str(first.pk if first is not None else 0)
        values = {**values, "object_id": pk, "id": pk}
    kwargs = {name: values[name] for name in route.kwargs if name != "url"}
    if not route.named:  # no name: fill the pattern in by hand
        if "url" in route.kwargs:
            return "/admin/no-such-page/"
        return "/" + route.pattern.replace("<path:object_id>", kwargs["object_id"])
    return reverse(route.key, kwargs=kwargs)
