import { z } from 'zod';
import { hostName } from './fields.js';
import { isLoopbackHost } from './loopback.js';

/**
 * `web:`: the live page (src/web). Same rule as the bundled broker: off loopback, a
 * password or an explicit opt-out, because the page shows every sensor and topic.
 */
export const webSchema = z
  .strictObject({
    /** @default true */
    enabled: z.boolean().default(true),
    /** @default 127.0.0.1: only this machine (open it elsewhere through an SSH tunnel). */
    host: hostName.default('127.0.0.1'),
    /** 0 picks a free port. @default 8080 */
    port: z.number().int().min(0).max(65535).default(8080),
    /** The HTTP Basic user name asked for when password_file is set. @default w1mqtt */
    username: z.string().min(1).default('w1mqtt'),
    /** A file holding the page's password (first line). Required off loopback. */
    password_file: z.string().min(1).optional(),
    /** true: serve another address without a password, knowingly. @default false */
    allow_anonymous: z.boolean().default(false),
  })
  .superRefine((web, ctx) => {
    if (!web.enabled || isLoopbackHost(web.host) || web.password_file !== undefined || web.allow_anonymous) return;
    ctx.addIssue({
      code: 'custom',
      path: ['host'],
      message:
        `the page would be open to the network on ${web.host} without a password: ` +
        'set web.password_file (or allow_anonymous: true to accept that), or keep host 127.0.0.1 and use an SSH tunnel',
    });
  });
