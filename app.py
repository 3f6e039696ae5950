"""Zabota: the Chalice app. Wiring only: the logger middleware and the blueprints, one per area."""

from aws_lambda_powertools.logging import correlation_paths
from chalice import Chalice, ConvertToMiddleware, Rate

from chalicelib import coldstart
from chalicelib.api import admin, channels, contacts, conversations, docs, inbound, routing, templates, webhooks, widget
from chalicelib.api import analytics as analytics_api
from chalicelib.api import auth as auth_api
from chalicelib.api import automation as automation_api
from chalicelib.api import clusters as clusters_api
from chalicelib.api import notifications as notifications_api
from chalicelib.api import search as search_api
from chalicelib.api import surveys as surveys_api
from chalicelib.api import tasks as tasks_api
from chalicelib.api import team as team_api
from chalicelib.events import export_worker as export_job
from chalicelib.events import function_url, schedules, stream, websocket
from chalicelib.observability import logger

app = Chalice(app_name="zabota")
app.experimental_feature_flags.update(["WEBSOCKETS"])

app.register_middleware(
    ConvertToMiddleware(logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST,
                                                     clear_state=True)), "http")
app.register_middleware(routing.framework_errors_in_our_shape, "http")  # Chalice's 405 in our error shape
for event_type in ("dynamodb", "scheduled", "websocket"):
    app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)), event_type)

for blueprint in (docs, webhooks, conversations, contacts, channels, inbound, admin, widget, templates):
    app.register_blueprint(blueprint.bp)
for blueprint in (auth_api, team_api, notifications_api, automation_api):  # team (docs/TEAM.md), the bell, E4/E5
    app.register_blueprint(blueprint.bp)
app.register_blueprint(tasks_api.bp)  # tasks and their teams (F1-F4)
app.register_blueprint(analytics_api.bp)  # dashboard, heat map, KPIs, reports, exports (G1-G5)
app.register_blueprint(surveys_api.bp)  # CSAT / NPS surveys (G4)
app.register_blueprint(search_api.bp)  # full-text search (B1) and the knowledge base (H1)
app.register_blueprint(clusters_api.bp)  # repeat requests (H2)
# Event handlers live on the app itself: Lambda imports `app` for them, so the middleware above applies
# (Chalice would point Lambda at a blueprint's own module and skip it; WebSocket handlers need the app anyway).
handle_stream = app.on_dynamodb_record(stream_arn=stream.STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON",
                                       name="handle_stream")(stream.handle_stream)
every_minute = app.schedule(Rate(1, unit=Rate.MINUTES), name="every_minute")(schedules.every_minute)
ws_connect = app.on_ws_connect(name="ws_connect")(websocket.ws_connect)
ws_message = app.on_ws_message(name="ws_message")(websocket.ws_message)
ws_disconnect = app.on_ws_disconnect(name="ws_disconnect")(websocket.ws_disconnect)
webhook = app.lambda_function(name="webhook")(function_url.handler(app))  # webhooks via a Function URL
api = function_url.handler(app, "api")  # the API function's handler: its Function URL, CloudFront's /api/* origin
export_worker = app.lambda_function(name="export_worker")(export_job.export_worker)  # exports (G5)
coldstart.ready()  # the cold import is over (chalicelib/coldstart.py)
