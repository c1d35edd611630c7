"""Built-in plugin: input channels."""

from __future__ import annotations

from dialogflowlite import hookimpl


@hookimpl
def dfl_register_channels() -> list[type]:
    from dialogflowlite.server.channels.botframework import BotFrameworkChannel
    from dialogflowlite.server.channels.callback import CallbackChannel
    from dialogflowlite.server.channels.console import ConsoleChannel
    from dialogflowlite.server.channels.facebook import FacebookChannel
    from dialogflowlite.server.channels.hangouts import HangoutsChannel
    from dialogflowlite.server.channels.mattermost import MattermostChannel
    from dialogflowlite.server.channels.rest import RestChannel
    from dialogflowlite.server.channels.rocketchat import RocketChatChannel
    from dialogflowlite.server.channels.slack import SlackChannel
    from dialogflowlite.server.channels.socketio import SocketIOChannel
    from dialogflowlite.server.channels.telegram import TelegramChannel
    from dialogflowlite.server.channels.twilio import TwilioChannel
    from dialogflowlite.server.channels.twilio_voice import TwilioVoiceChannel
    from dialogflowlite.server.channels.webexteams import WebexTeamsChannel
    from dialogflowlite.server.channels.websocket import WebSocketChannel

    return [RestChannel, WebSocketChannel, SocketIOChannel, CallbackChannel, SlackChannel,
            TelegramChannel, FacebookChannel, TwilioChannel, BotFrameworkChannel,
            MattermostChannel, RocketChatChannel, WebexTeamsChannel, HangoutsChannel,
            TwilioVoiceChannel, ConsoleChannel]
