"""What `incidents` announces to other apps, so that it never has to import them.

`incident_event_recorded` is sent with `sender=IncidentEvent` and `event=<IncidentEvent>`
*inside* the transaction that made the change, after the timeline row is written.
A receiver's writes therefore commit or roll back with the change (the webhooks app
writes its outbox here), and an exception in a receiver aborts the change. Receivers
must not do I/O; they schedule it with `transaction.on_commit`.
"""

from django.dispatch import Signal

incident_event_recorded = Signal()
