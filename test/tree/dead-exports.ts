// Finds exports nobody imports: every exported name of core/, cli/, host-agent/ and
// server/ must be imported somewhere in the tree (sources, tests, bench, scripts), by a
// static import, a re-export that someone imports, or a dynamic import() of its module.
// An export used only inside its own file is dead too: drop the `export`.
import ts from "typescript";
import { relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const PARTS = ["core/", "cli/", "host-agent/", "server/"];

function program(): ts.Program {
  const file = ts.findConfigFile(ROOT, ts.sys.fileExists, "tsconfig.check.json")!;
  const config = ts.getParsedCommandLineOfConfigFile(file, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  return ts.createProgram({ rootNames: config.fileNames, options: { ...config.options, noEmit: true } });
}

/** "file: name" for every export of the parts that no other module imports. */
export function deadExports(): string[] {
  const prog = program();
  const checker = prog.getTypeChecker();
  const own = prog.getSourceFiles().filter((f) => !f.isDeclarationFile && !f.fileName.includes("/node_modules/"));
  const used = new Set<ts.Symbol>();
  const original = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const useModule = (spec: ts.Expression): void => {
    const mod = checker.getSymbolAtLocation(spec);
    if (mod) for (const e of checker.getExportsOfModule(mod)) used.add(original(e));
  };
  for (const f of own) {
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) && node.importClause) {
        const c = node.importClause;
        if (c.name) used.add(original(checker.getSymbolAtLocation(c.name)!));
        const b = c.namedBindings;
        if (b && ts.isNamespaceImport(b)) useModule(node.moduleSpecifier);
        else if (b) for (const el of b.elements) { const s = checker.getSymbolAtLocation(el.name); if (s) used.add(original(s)); }
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.exportClause) {
        // `export * from`: the names count where the re-exporting module is imported
      } else if (ts.isExportSpecifier(node) && node.parent.parent.moduleSpecifier === undefined) {
        // `export { x }` of a local: an export like any other
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
        useModule(node.arguments[0]);
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
        useModule(node.argument.literal);
      }
      ts.forEachChild(node, visit);
    };
    visit(f);
  }
  const dead: string[] = [];
  for (const f of own) {
    const rel = relative(ROOT, f.fileName);
    if (!PARTS.some((p) => rel.startsWith(p))) continue;
    const mod = checker.getSymbolAtLocation(f);
    if (!mod) continue;
    for (const e of checker.getExportsOfModule(mod)) {
      const o = original(e);
      const home = o.declarations?.[0]?.getSourceFile();
      if (home !== f) continue; // a re-export: judged in its own module
      if (!used.has(o)) dead.push(`${rel}: ${e.name}`);
    }
  }
  return dead.sort();
}
