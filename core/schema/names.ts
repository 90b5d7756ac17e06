import { z } from "zod";

/**
 * Secret names become file names under /run/keys and /run/nixseal, so they must
 * be one path component: no "/", no leading dot, no "..", no NUL or control bytes.
 */
export const secretName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._@+-]{0,127}$/, {
    message:
      "a secret name is 1-128 characters of letters, digits and . _ @ + -, not starting with a dot",
  })
  .refine((s) => !s.includes(".."), { message: 'a secret name may not contain ".."' });

/** Host names: DNS-label style, also used as directory names. */
export const hostName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
    message: "a host name is 1-63 lowercase letters, digits and -, not starting or ending with -",
  });

/** A POSIX user or group name, or a numeric id. */
export const principal = z
  .string()
  .regex(/^([a-z_][a-z0-9_-]{0,31}\$?|[0-9]{1,10})$/, {
    message: "a user or group is a POSIX name (e.g. nginx) or a numeric id",
  });

/** An octal file mode such as "0400" or "440". */
export const fileMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, { message: 'a mode is 3 or 4 octal digits, e.g. "0400"' });

/** A systemd unit name, e.g. nginx.service. */
export const unitName = z
  .string()
  .regex(/^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|timer|path|mount)$/, {
    message: "a unit name such as nginx.service",
  });

/** An absolute path with no ".." components. */
export const absolutePath = z
  .string()
  .regex(/^\/[^\0]*$/, { message: "an absolute path" })
  .refine((p) => !p.split("/").includes(".."), { message: 'a path may not contain ".."' });
