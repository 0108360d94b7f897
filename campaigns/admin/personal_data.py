"""Who may see personal data in the admin: staff allowed to see customers (view_customer).

Pages about campaigns, segments and templates show counts; anything that names or
describes a person (a message, an order, an event, a consent event, a survey answer, a
coupon's holder, an import's rejected rows, the customers a segment picks) needs
view_customer as well.
"""
CUSTOMER_PERMISSION = "campaigns.view_customer"


def customer_data_allowed(request) -> bool:
    return request.user.has_perm(CUSTOMER_PERMISSION)


class PersonalDataAdminMixin:
    """For an admin whose rows are about one person: its pages, actions and exports need
    view_customer on top of the model's own permission (put it first among the bases)."""

    def has_view_permission(self, request, obj=None):
        return customer_data_allowed(request) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return customer_data_allowed(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return customer_data_allowed(request) and super().has_delete_permission(request, obj)

    def has_add_permission(self, request, *args):
        return customer_data_allowed(request) and super().has_add_permission(request, *args)
