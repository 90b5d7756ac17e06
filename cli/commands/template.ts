import type { Command } from "commander";
import { addTemplate, listTemplates, removeTemplate, setTemplate, type TemplateAddOptions, type TemplateSetOptions } from "../templates/ops.js";
import type { CommandContext } from "./context.js";

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(",").filter((v) => v !== "")];

const HELP = `
A template is a config file with placeholders for secrets, written
{{ secret "NAME" }}; any other text (braces too) is kept as it is. It lives in the
repo as templates/NAME and must hold no secret itself. Each host renders it into
the secrets tmpfs, /run/keys/NAME (and --path, a link), with its own owner, group
and mode, at boot and whenever a secret it uses changes; then its units restart.
Every placeholder must name a secret that each of the template's hosts gets: that is
checked here, whenever the repo changes, and again before anything ships.
On NixOS a template is listed in the host's generated nixseal-secrets.json like a
secret: it gets a NAME-key.service, and --needed-by UNIT keeps UNIT from starting
before the rendered file is in place.`;

/** `nixseal template add|set|rm|list`. */
export function registerTemplate(program: Command, ctx: CommandContext): void {
  const tpl = program.command("template").description("config files with placeholders for secrets, rendered on the hosts");

  tpl
    .command("add")
    .description("add a template for some hosts")
    .argument("<name>", "its file name on the host (/run/keys/NAME); shared with the secrets' names")
    .requiredOption("--host <a,b>", "hosts that render it (repeatable, comma-separated)", collect)
    .requiredOption("--from-file <file>", "the template text")
    .option("--owner <user>", "owner of the rendered file", "root")
    .option("--group <group>", "group of the rendered file (default: the owner's primary group on the host)")
    .option("--mode <mode>", "octal mode of the rendered file", "0400")
    .option("--path <path>", "extra absolute path where it appears (a symlink), e.g. for an EnvironmentFile=")
    .option("--restart-unit <unit>", "unit to restart when it changes (repeatable)", collect)
    .option("--reload-unit <unit>", "unit to reload when it changes (repeatable)", collect)
    .option("--needed-by <unit>", "NixOS: unit that may not start before the rendered file is in place (repeatable)", collect)
    .option("--allow-world-readable", "allow a mode that gives others access")
    .addHelpText(
      "after",
      HELP +
        `

Examples:
  nixseal template add Caddyfile --host blog --from-file ./Caddyfile --owner caddy --reload-unit caddy.service
  nixseal template add app.env --host web1 --from-file ./app.env --restart-unit app.service`,
    )
    .action((name: string, opts: TemplateAddOptions) => addTemplate(ctx.io, name, opts));

  tpl
    .command("set")
    .description("change a template's text, hosts or metadata")
    .argument("<name>", "template name")
    .option("--from-file <file>", "new template text")
    .option("--add-host <name>", "add a host (repeatable)", collect)
    .option("--rm-host <name>", "remove a host (repeatable)", collect)
    .option("--owner <user>", "owner of the rendered file")
    .option("--group <group>", "group of the rendered file")
    .option("--mode <mode>", "octal mode of the rendered file")
    .option("--path <path>", "extra absolute path where it appears")
    .option("--no-path", "remove the extra path")
    .option("--restart-unit <unit>", "replace the units to restart (repeatable)", collect)
    .option("--reload-unit <unit>", "replace the units to reload (repeatable)", collect)
    .option("--needed-by <unit>", "NixOS: replace the units that need it (repeatable; \"\" for none)", collect)
    .option("--allow-world-readable", "allow a mode that gives others access")
    .action((name: string, opts: TemplateSetOptions) => setTemplate(ctx.io, name, opts));

  tpl
    .command("rm")
    .description("remove a template")
    .argument("<name>", "template name")
    .action((name: string) => removeTemplate(ctx.io, name));

  tpl
    .command("list")
    .description("list templates and the secrets each uses")
    .option("--json", "machine-readable output")
    .action((opts: { json?: boolean }) => listTemplates(ctx.io, opts));
}
