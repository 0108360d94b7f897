"""Small steps many tests share: a customer who said yes, one tick with its sends, a client
logged in with a role."""
from django.contrib.auth.models import Group, User
from django.test import Client

from campaigns.models import Customer
from campaigns.services.consent import consent_record
from campaigns.services.scheduling import TickReport, scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import CustomerFactory


def consenting_customer(**fields) -> Customer:
    """A customer with recorded marketing consent (source api)."""
    customer = CustomerFactory(**fields)
    consent_record(customer=customer, granted=True, source="api")
    return customer


def run_tick(now) -> TickReport:
    """One scheduler tick at `now`, then every batch it claimed sent in-process."""
    report = scheduler_tick(now=now)
    messages_send_due(now=now)
    return report


def client_for(role: str, username: str) -> Client:
    """A test client logged in as a new staff user in the group `role` (Marketers, Admins)."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client
