from django import template

from masking import get_technique

register = template.Library()


@register.simple_tag
def technique_params(name):
    try:
        return get_technique(name or "keep")
    except Exception:
        return None


@register.simple_tag
def param_value(params, param):
    if isinstance(params, dict) and param.name in params:
        return params[param.name]
    return param.default


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if isinstance(mapping, dict) else None
