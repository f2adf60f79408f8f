"""The webhook view: a DRF APIView without authentication (the signatures are the
authentication) that hands the raw body and the headers to opsknight_receiver.py."""

from opsknight_receiver import Config, Receiver
from rest_framework.response import Response
from rest_framework.views import APIView

# One per process, created when the URLs are loaded: a missing variable fails at start.
receiver = Receiver(Config.from_environment())


class OpsKnightWebhookView(APIView):
    authentication_classes = []  # no session, so no CSRF check either
    permission_classes = []

    def post(self, request):
        # request.body: the raw bytes, as signed. Never touch request.data first (it
        # consumes the body) and never re-serialize the parsed JSON.
        answer = receiver.receive(request.body, request.headers)
        return Response(answer.body, status=answer.status)
