import { BusSimulator, sensorNames, type SimBusSpec } from '../sim/bus-simulator.js';

/**
 * `w1mqtt demo --realistic`: two simulated masters whose reads block like the kernel's,
 * so the log and the cycle times show bulk conversion at work. Bus 1: ten DS18B20 at
 * 12 bits; bus 2: four at 9 bits, a DS18S20 and a DS28EA00 (which always converts alone).
 */
export async function realisticBus(dir: string): Promise<BusSimulator> {
  const buses: SimBusSpec[] = [
    { sensors: sensorNames(10, 1).map((name, i) => ({ name, milli: 19_000 + i * 500 })) },
    {
      sensors: [
        ...sensorNames(4, 2).map((name, i) => ({ name, milli: 6_000 + i * 750, resolution: 9 as const })),
        { name: sensorNames(1, 2, '10')[0] ?? '', milli: 22_062 },
        { name: sensorNames(1, 2, '42')[0] ?? '', milli: 18_062 },
      ],
    },
  ];
  const sim = new BusSimulator({ dir, buses, driftMs: 2_000 });
  await sim.start();
  return sim;
}
