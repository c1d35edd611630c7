"""Events published to RabbitMQ (Rasa's ``type: pika`` broker).

endpoints.yml::

    event_broker:
      type: pika
      url: localhost            # a host name, or a full amqp:// or amqps:// URL
      port: 5672
      username: ${RABBITMQ_USER}
      password: ${RABBITMQ_PASSWORD}
      queues:                   # default: rasa_core_events
        - rasa_core_events
      exchange_name: rasa-exchange

Every event is one persistent message whose body is the event's JSON with its
``sender_id``, as Rasa publishes it, sent to a durable fanout exchange that
each of ``queues`` is bound to; a consumer reading a queue Rasa's broker filled
reads these the same way. ``$RASA_ENVIRONMENT``, when set, is each message's
``app_id``, as in Rasa.

Nothing is lost while RabbitMQ is away: messages are sent with publisher
confirms, and a message the server did not confirm is sent again on a new
connection, up to ``connection_attempts`` times, ``retry_delay_in_seconds``
apart; when those are used up, the server keeps the events and starts over
(at least a second later) for as long as it runs, as Rasa keeps unpublished
messages until the connection is back. Meanwhile newer events wait in the
broker's queue, in order (the bot keeps answering; beyond ``max_pending``
waiting events new ones are dropped, and counted in the log; see
:mod:`dialogflowlite.brokers.base`). Each message has a ``message_id`` of its
own, so a consumer can drop the duplicate that a resend after a lost confirm
may produce. With ``should_keep_unpublished_messages: false`` there is one
attempt, and events that fail are dropped (and counted in the log). What
RabbitMQ refuses (the password, an exchange declared otherwise) is never
retried. Events that could not be published stay in the tracker store;
``dialogflowlite export`` publishes them again.

``raise_on_failure: true`` makes ``dialogflowlite run`` connect once at
start and refuse to start when RabbitMQ cannot be reached.

TLS: an ``amqps://`` URL. ``$RABBITMQ_SSL_CLIENT_CERTIFICATE`` and
``$RABBITMQ_SSL_CLIENT_KEY`` (and ``$RABBITMQ_SSL_CA_FILE``,
``$RABBITMQ_SSL_KEY_PASSWORD``) give a client certificate, as in Rasa.
Needs ``pip install 'dialogflowlite[rabbitmq]'``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import uuid
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from dialogflowlite.brokers.base import EventBroker
from dialogflowlite.errors import ConfigError, EventBrokerError

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "rasa_core_events"
DEFAULT_EXCHANGE = "rasa-exchange"


def _queue_names(queues: Any, queue: Any) -> list[str]:
    names: list[str] = []
    for given in (queues, queue):
        if given is None:
            continue
        items = [given] if isinstance(given, str) else given
        if not isinstance(items, (list, tuple)) or not all(
                isinstance(item, str) and item for item in items):
            raise ConfigError("endpoints.yml event_broker: `queues` must be a queue name or a "
                              "list of queue names", hint="queues: [rasa_core_events]")
        names += [item for item in items if item not in names]
    return names or [DEFAULT_QUEUE]


def _positive(name: str, value: Any, *, integer: bool = False) -> float:
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        number = -1
    if number <= 0 and not (name == "retry_delay_in_seconds" and number == 0):
        kind = "a whole number" if integer else "a number of seconds"
        raise ConfigError(f"endpoints.yml event_broker: `{name}` must be {kind} above 0, "
                          f"not {value!r}")
    return number


def amqp_url(url: str, *, port: int, username: str, password: str,
             virtual_host: str) -> str:
    """The AMQP URL for ``url``: kept when it is one already, else built from the parts."""
    if "://" in url:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("amqp", "amqps"):
            raise ConfigError(f"endpoints.yml event_broker: url {url!r} is not an AMQP URL",
                              hint="give a host name, or amqp://host:5672 (amqps:// for TLS)")
        return url
    credentials = f"{quote(username, safe='')}:{quote(password, safe='')}"
    return f"amqp://{credentials}@{url}:{port}/{quote(virtual_host, safe='')}"


def _client_ssl_context() -> Any:
    """The TLS context of Rasa's ``RABBITMQ_SSL_*`` variables, or None without a certificate."""
    certificate = os.environ.get("RABBITMQ_SSL_CLIENT_CERTIFICATE")
    key = os.environ.get("RABBITMQ_SSL_CLIENT_KEY")
    if not certificate and not key:
        return None
    if not (certificate and key):
        raise ConfigError("RABBITMQ_SSL_CLIENT_CERTIFICATE and RABBITMQ_SSL_CLIENT_KEY must be "
                          "set together")
    import ssl

    context = ssl.create_default_context(cafile=os.environ.get("RABBITMQ_SSL_CA_FILE") or None)
    try:
        context.load_cert_chain(certificate, key,
                                password=os.environ.get("RABBITMQ_SSL_KEY_PASSWORD") or None)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"the RabbitMQ client certificate {certificate} cannot be loaded: "
                          f"{e}") from e
    return context


class _RefusedError(EventBrokerError):
    """What RabbitMQ refused and no retry mends (credentials, conflicting declarations)."""


class PikaEventBroker(EventBroker):
    """Publishes every event as a persistent message to a RabbitMQ fanout exchange."""

    def __init__(self, url: str = "localhost", *, host: str | None = None, port: int = 5672,
                 username: str = "guest", password: str = "guest",
                 queues: list[str] | str | None = None, queue: str | None = None,
                 exchange_name: str = DEFAULT_EXCHANGE, virtual_host: str = "/",
                 should_keep_unpublished_messages: bool = True, raise_on_failure: bool = False,
                 connection_attempts: int = 20, retry_delay_in_seconds: float = 5,
                 timeout: float = 10) -> None:
        try:
            import aio_pika  # noqa: F401 - checked now so the error comes at start
        except ImportError as e:
            raise ConfigError("the pika event broker needs aio-pika",
                              hint="pip install 'dialogflowlite[rabbitmq]'") from e
        self.queues = _queue_names(queues, queue)
        if not isinstance(exchange_name, str) or not exchange_name:
            raise ConfigError("endpoints.yml event_broker: `exchange_name` must be a name")
        self.exchange_name = exchange_name
        self.url = amqp_url(str(host or url), port=int(_positive("port", port, integer=True)),
                            username=str(username), password=str(password),
                            virtual_host=str(virtual_host))
        self.keep_unpublished = bool(should_keep_unpublished_messages)
        self.raise_on_failure = bool(raise_on_failure)
        self.connection_attempts = int(_positive("connection_attempts", connection_attempts,
                                                 integer=True))
        self.retry_delay = _positive("retry_delay_in_seconds", retry_delay_in_seconds)
        self.timeout = _positive("timeout", timeout)
        # (a pause between rounds of attempts, however short retry_delay_in_seconds is)
        self.retry_failed_after = max(self.retry_delay, 1.0)
        self.app_id = os.environ.get("RASA_ENVIRONMENT") or None
        self._ssl_context = _client_ssl_context()
        self._connection: Any = None
        self._exchange: Any = None
        #: the events of the last call that failed, their messages, and how many of
        #: them RabbitMQ confirmed (see publish_many)
        self._kept: tuple[list[dict[str, Any]], list[Any], int] | None = None
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        """The server, without the password, for messages."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 5672}{parts.path or '/'}"

    # ------------------------------------------------------------ connection

    async def _connect(self) -> Any:
        import aio_pika

        if self._exchange is not None and not self._connection.is_closed:
            return self._exchange
        await self._drop_connection()
        connection = await aio_pika.connect(self.url, timeout=self.timeout,
                                            ssl_context=self._ssl_context)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.FANOUT, durable=True)
            for name in self.queues:
                declared = await channel.declare_queue(name, durable=True)
                await declared.bind(exchange)
        except BaseException:
            await connection.close()
            raise
        self._connection, self._exchange = connection, exchange
        logger.debug("event broker connected to %s (exchange %r, queues %s)", self.where,
                     self.exchange_name, ", ".join(self.queues))
        return exchange

    async def _drop_connection(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception as e:  # it is being replaced; its failure changes nothing
                logger.debug("closing the RabbitMQ connection failed: %s", e)

    def _refused(self, error: BaseException) -> _RefusedError | None:
        """A clear error for what no retry can fix (credentials, conflicting declarations)."""
        from aiormq import exceptions

        if isinstance(error, (exceptions.ProbableAuthenticationError,
                              exceptions.AuthenticationError)):
            return _RefusedError(f"RabbitMQ at {self.where} refused the user name or "
                                    f"password: {error}",
                                    hint="check username and password of event_broker in "
                                         "endpoints.yml")
        if isinstance(error, exceptions.ChannelPreconditionFailed):
            return _RefusedError(
                f"RabbitMQ at {self.where} refused the exchange {self.exchange_name!r} or a "
                f"queue of {', '.join(self.queues)}: {error}",
                hint="an exchange or queue of that name exists with other settings; the "
                     "exchange must be a durable fanout, the queues durable")
        if isinstance(error, exceptions.ChannelAccessRefused):
            return _RefusedError(f"RabbitMQ at {self.where} refused access: {error}",
                                    hint="give the user permissions on the virtual host")
        if isinstance(error, (exceptions.InvalidFrameError, exceptions.ConnectionNotAllowed)) \
                and ("Connection.OpenOk" in str(error) or
                     isinstance(error, exceptions.ConnectionNotAllowed)):
            # the server closes the connection instead of opening the virtual host: aiormq
            # says only that it expected Connection.OpenOk, and the broker retried for ever
            virtual_host = unquote(urlsplit(self.url).path[1:]) or "/"
            return _RefusedError(
                f"RabbitMQ at {self.where} refused the virtual host {virtual_host!r}: it "
                "does not exist there, or the user may not use it",
                hint="create it (rabbitmqctl add_vhost) and give the user permissions on it, "
                     "or fix the path of the url of event_broker in endpoints.yml")
        return None

    # ------------------------------------------------------------ EventBroker

    def _message(self, event: dict[str, Any]) -> Any:
        import aio_pika

        return aio_pika.Message(json.dumps(event, ensure_ascii=False).encode(),
                                content_type="application/json",
                                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                message_id=uuid.uuid4().hex, app_id=self.app_id)

    async def publish_many(self, events: list[dict[str, Any]]) -> None:
        """Publish in order, each message confirmed; resend on a new connection on failure."""
        if not events:
            return
        kept = self._kept
        if kept is not None and kept[0] is events:
            # the same events again (the server kept them after a failure): the messages
            # RabbitMQ confirmed are not sent twice, the others keep their message_id
            _, messages, sent = kept
        else:
            messages, sent = [self._message(event) for event in events], 0
        self._kept = None
        attempts = self.connection_attempts if self.keep_unpublished else 1
        async with self._lock:
            for attempt in range(1, attempts + 1):
                try:
                    exchange = await self._connect()
                    while sent < len(messages):
                        await exchange.publish(messages[sent], routing_key="",
                                               timeout=self.timeout)
                        sent += 1
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    refused = self._refused(e)
                    if refused is not None:
                        raise refused from e
                    await self._drop_connection()
                    if attempt == attempts:
                        self._kept = (events, messages, sent)
                        raise EventBrokerError(
                            f"RabbitMQ at {self.where} did not take {len(messages) - sent} "
                            f"event(s) in {attempts} attempt(s): {_why(e)}",
                            hint="they are in the tracker store: `dialogflowlite export` "
                                 "publishes them again") from e
                    logger.warning("event broker: RabbitMQ at %s failed (%s); attempt %d of "
                                   "%d in %.0f s", self.where, _why(e),
                                   attempt + 1, attempts, self.retry_delay)
                    await asyncio.sleep(self.retry_delay)

    def keeps_failed_events(self, error: Exception) -> bool:
        """Events RabbitMQ did not take in ``connection_attempts`` attempts are kept and
        tried again (``should_keep_unpublished_messages``, on by default); what it
        refused, and what no message can be made of, are not."""
        return (self.keep_unpublished and isinstance(error, EventBrokerError)
                and not isinstance(error, _RefusedError))

    def prepare_for_export(self) -> None:
        """One attempt per publish, and a connection checked before the export starts (as
        Rasa's export sets the broker up): an unreachable RabbitMQ otherwise held the
        export for ``connection_attempts`` x ``retry_delay_in_seconds`` (100 s by default)."""
        self.keep_unpublished = False
        self.raise_on_failure = True

    async def check_connection(self) -> None:
        """Connect once when ``raise_on_failure`` is set; raise :class:`EventBrokerError` if not."""
        if not self.raise_on_failure:
            return
        try:
            async with self._lock:
                await self._connect()
        except Exception as e:
            raise self._refused(e) or EventBrokerError(
                f"RabbitMQ at {self.where} cannot be reached: {e or type(e).__name__}",
                hint="start RabbitMQ, or set raise_on_failure: false to start without it "
                     "(events then wait for it)") from e
        finally:
            await self.close()

    async def close(self) -> None:
        async with self._lock:
            await self._drop_connection()


def _why(error: Exception) -> str:
    """What went wrong, in words: aio_pika names a closed channel by its repr
    (``<aio_pika.channel.Channel object at 0x7fed...> closed``)."""
    text = str(error) or type(error).__name__
    return re.sub(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-fA-F]+>",
                  lambda found: f"the {found.group(1).lower()}", text)
