/**
 * Keys that mosquitto, the bundled broker, has no use for, but that a sensors.yaml written
 * for an earlier release may carry: the config stays valid (an upgrade must not stop a
 * running service), and `run` and `check` say once what took each key's place. Keys whose
 * loss would weaken security (broker.users) are refused in broker-schema.ts instead.
 */
export const RETIRED_KEYS: readonly { readonly path: readonly string[]; readonly message: string }[] = [
  {
    path: ['broker', 'protect_agent_topics'],
    message: "ignored: the bundled broker is now mosquitto, whose acl_file decides who may write where (give other users `topic read home/#`)",
  },
  {
    path: ['broker', 'connect_timeout'],
    message: 'ignored: the bundled broker is now mosquitto, which closes a connection that sends no CONNECT by itself',
  },
  {
    path: ['broker', 'slow_subscriber_timeout'],
    message: "ignored: the bundled broker is now mosquitto, which bounds a slow subscriber's queue with broker.max_queued_messages",
  },
];
