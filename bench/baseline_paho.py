"""The classic way to do w1mqtt's job, as in the OWFS/DS18B20 tutorials: every interval, read
each sensor's w1_slave, check the CRC line, publish the temperature with paho-mqtt.
Used by bench/cost.ts as the baseline (Debian's python3-paho-mqtt, 1.6).

usage: baseline_paho.py DEVICES_DIR HOST PORT INTERVAL_S BASE_TOPIC
"""
import glob
import os
import sys
import time

import paho.mqtt.client as mqtt

devices, host, port, interval, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
client = mqtt.Client(client_id="baseline-paho")
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
