"""What Home Assistant's MQTT integration does on the wire, for the integration tests.

Connects with MQTT 5 and a username and password through paho-mqtt (HA's own client
library), subscribes to the discovery prefix, and for each config received subscribes to
its state topic and availability topics, as HA does when it sets up an entity. Every
message received is printed as one JSON line on stdout; a JSON line on stdin
({"topic": ..., "payload": ..., "qos": 0, "retain": false}) is published, e.g. HA's birth
message. Works with paho-mqtt 1.6 (Debian bookworm) and 2.x (callback API version 2).

usage: ha_client.py HOST PORT USERNAME PASSWORD PREFIX
"""
import json
import sys
import threading

import paho.mqtt
import paho.mqtt.client as mqtt

host, port, username, password, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
out_lock = threading.Lock()
subscribed = set()


def emit(**event):
    with out_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def code(rc):
    # paho 1.6 passes ReasonCodes, 2.x ReasonCode; both carry .value (an int in 1.6's MQTT 3 path).
    return int(getattr(rc, "value", rc))


def follow(client, topic):
    if topic not in subscribed:
        subscribed.add(topic)
        client.subscribe(topic, qos=1)


def on_connect(client, userdata, flags, rc, properties=None):
    emit(event="connected", rc=code(rc), paho=paho.mqtt.__version__)
    if code(rc) == 0:
        # HA subscribes to <prefix>/+/+/config and <prefix>/+/+/+/config; `#` sees removals too.
        follow(client, prefix + "/#")


def on_subscribe(client, userdata, mid, reason_codes, properties=None):
    emit(event="subscribed", mid=mid, codes=[code(c) for c in reason_codes])


def on_message(client, userdata, msg):
    text = msg.payload.decode("utf-8", "replace")
    emit(event="message", topic=msg.topic, payload=text, retain=bool(msg.retain))
    if msg.topic.startswith(prefix + "/") and msg.topic.endswith("/config") and text:
        try:
            config = json.loads(text)
        except ValueError:
            return
        # What HA subscribes to for a discovered entity: its state and its availability.
        if isinstance(config.get("state_topic"), str):
            follow(client, config["state_topic"])
        for item in config.get("availability") or []:
            if isinstance(item, dict) and isinstance(item.get("topic"), str):
                follow(client, item["topic"])


def on_publish(client, userdata, mid, *rest):
    emit(event="published", mid=mid)


def make_client():
    kwargs = {"client_id": "ha-paho-test", "protocol": mqtt.MQTTv5}
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt >= 2.0
        kwargs["callback_api_version"] = mqtt.CallbackAPIVersion.VERSION2
    return mqtt.Client(**kwargs)


client = make_client()
client.username_pw_set(username, password)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.on_publish = on_publish
client.connect(host, port, keepalive=30)
client.loop_start()
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    command = json.loads(line)
    client.publish(command["topic"], command.get("payload", ""), qos=command.get("qos", 0), retain=command.get("retain", False))
client.disconnect()
client.loop_stop()
