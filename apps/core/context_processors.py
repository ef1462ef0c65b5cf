from django.urls import NoReverseMatch, reverse

_MAIN = [
    ("connections", "Connections", "connections:list"),
    ("workflows", "Workflows", "workflows:list"),
    ("executions", "Executions", "executions:list"),
    ("schedules", "Schedules", "schedules:list"),
]
_ADMIN = [("audit", "Audit trail", "audit:list")]


def _items(spec):
    items = []
    for key, label, name in spec:
        try:
            items.append({"key": key, "label": label, "url": reverse(name)})
        except NoReverseMatch:
            continue
    return items


def navigation(request):
    return {"main_nav": _items(_MAIN), "admin_nav": _items(_ADMIN)}
