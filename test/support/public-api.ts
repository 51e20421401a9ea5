import { join, relative } from 'node:path';
import ts from 'typescript';

/** A documented (or not) property of an interface the package's entry exposes. */
export interface PublicProp {
  /** `Interface.prop` */
  readonly name: string;
  /** `constructs/network/network.ts:12` */
  readonly location: string;
  /** The doc comment's text (without tags); empty when there is none. */
  readonly description: string;
  readonly optional: boolean;
  /** The `@default` tag's text, undefined without one. */
  readonly default?: string;
}

/**
 * Every property of the props interfaces the entry exports (`*Props`, `*Options`, `*Inputs`) and of
 * every interface of this repository those reach through their property types, with its doc comment:
 * what a consumer of `surgeguard/constructs` configures. Read with the TypeScript compiler API
 * from the sources, as the library build (tsconfig.lib.json) compiles them.
 */
export function publicProps(repo: string, entry = 'constructs/index.ts'): PublicProp[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(repo, 'tsconfig.lib.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error('tsconfig.lib.json: cannot be read');
  const program = ts.createProgram({ rootNames: [join(repo, entry)], options: { ...parsed.options, noEmit: true } });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(join(repo, entry))!)!;
  const ours = (d: ts.Declaration) => !d.getSourceFile().fileName.includes('/node_modules/');

  const seen = new Set<ts.InterfaceDeclaration>();
  const queue: ts.InterfaceDeclaration[] = [];
  const add = (symbol: ts.Symbol | undefined) => {
    for (const d of symbol?.declarations ?? []) {
      if (ts.isInterfaceDeclaration(d) && ours(d) && !seen.has(d)) {
        seen.add(d);
        queue.push(d);
      }
    }
  };
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (/(Props|Options|Inputs)$/.test(symbol.name)) add(symbol);
  }
  // Interfaces reached through property types (arrays, unions, Readonly<...> and inline objects included).
  const visitType = (type: ts.Type, depth = 0) => {
    if (depth > 6) return;
    add(type.aliasSymbol);
    add(type.getSymbol());
    if (type.isUnionOrIntersection()) for (const t of type.types) visitType(t, depth + 1);
    for (const t of checker.getTypeArguments(type as ts.TypeReference) ?? []) visitType(t, depth + 1);
    for (const t of type.aliasTypeArguments ?? []) visitType(t, depth + 1);
    const symbol = type.getSymbol();
    if (symbol && symbol.flags & ts.SymbolFlags.TypeLiteral) {
      for (const p of type.getProperties()) visitType(checker.getTypeOfSymbol(p), depth + 1);
    }
  };

  const props: PublicProp[] = [];
  while (queue.length > 0) {
    const decl = queue.shift()!;
    for (const heritage of decl.heritageClauses ?? []) for (const t of heritage.types) visitType(checker.getTypeAtLocation(t));
    for (const member of decl.members) {
      if (!ts.isPropertySignature(member)) continue;
      const symbol = checker.getSymbolAtLocation(member.name)!;
      const sf = member.getSourceFile();
      const line = sf.getLineAndCharacterOfPosition(member.getStart()).line + 1;
      const tag = symbol.getJsDocTags(checker).find((t) => t.name === 'default');
      props.push({
        name: `${decl.name.text}.${symbol.name}`,
        location: `${relative(repo, sf.fileName)}:${line}`,
        description: ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim(),
        optional: member.questionToken !== undefined,
        default: tag ? ts.displayPartsToString(tag.text).trim() : undefined,
      });
      visitType(checker.getTypeAtLocation(member));
    }
  }
  return props.sort((a, b) => a.name.localeCompare(b.name));
}
