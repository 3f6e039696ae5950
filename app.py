"""Zabota: the Chalice app. Wiring only: the logger middleware and the blueprints, one per area."""

from aws_lambda_powertools.logging import correlation_paths
from chalice import Chalice, ConvertToMiddleware

from chalicelib.api import admin, channels, conversations, docs, inbound, webhooks
from chalicelib.events import schedules, stream, websocket
from chalicelib.observability import logger

app = Chalice(app_name="zabota")
app.experimental_feature_flags.update(["WEBSOCKETS"])

app.register_middleware(
    ConvertToMiddleware(logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST,
                                                     clear_state=True)), "http")
for event_type in ("dynamodb", "scheduled", "websocket"):
    app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)), event_type)

for blueprint in (docs, webhooks, conversations, channels, inbound, admin):
    app.register_blueprint(blueprint.bp)
for blueprint in (stream, schedules):
    app.register_blueprint(blueprint.bp)

ws_connect = app.on_ws_connect(name="ws_connect")(websocket.ws_connect)
ws_message = app.on_ws_message(name="ws_message")(websocket.ws_message)
ws_disconnect = app.on_ws_disconnect(name="ws_disconnect")(websocket.ws_disconnect)
