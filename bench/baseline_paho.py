"""The classic way to do w1mqtt's job, as in the OWFS/DS18B20 tutorials: every interval, read
each sensor's w1_slave, check the CRC line, publish the temperature with paho-mqtt.
Used by bench/cost.ts and bench/loads.ts as the baseline (Debian's python3-paho-mqtt, 1.6).
QoS 1 and retained, as the agent publishes by default.

usage: baseline_paho.py DEVICES_DIR HOST PORT INTERVAL_S BASE_TOPIC [CLIENT_ID]
CLIENT_ID defaults to baseline-paho; several loops on one broker need one each, or the
broker disconnects the older session every time a newer one connects.
"""
import glob
import os
import sys
import time

import paho.mqtt.client as mqtt

devices, host, port, interval, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
client_id = sys.argv[6] if len(sys.argv) > 6 else "baseline-paho"
client = mqtt.Client(client_id=client_id)
client.connect(host, port)
client.loop_start()
while True:
    started = time.monotonic()
    for path in sorted(glob.glob(os.path.join(devices, "28-*"))):
        with open(os.path.join(path, "w1_slave")) as f:
            lines = f.readlines()
        if len(lines) < 2 or not lines[0].strip().endswith("YES"):
            continue
        celsius = float(lines[1].split("t=")[1]) / 1000
        sensor = os.path.basename(path)
        client.publish("%s/1wire/%s/temperature" % (base, sensor), "%.2f" % celsius, qos=1, retain=True)
    time.sleep(max(0.0, interval - (time.monotonic() - started)))
