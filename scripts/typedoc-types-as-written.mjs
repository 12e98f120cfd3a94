// TypeDoc plugin (typedoc.json `plugin`): show a return, parameter or property type as the source
// writes it when TypeDoc would otherwise expand it.
//
// The protocol's message types are computed from the wire schema (`Response` is
// `InferEnum<typeof RESPONSE_VARIANTS>`, `TopicMetadata` is `Infer<typeof topicMetadataSchema>`), and
// TypeScript does not keep their names on the types it infers: without this, TypeDoc writes
// `request$(): Observable<Response>` as an Observable of 42 inline object types (whose fields have
// no declaration to carry a comment), instead of a link to `Response`. So: when the type TypeDoc
// converted from the checker contains such an inline object type and the annotation written in the
// source names its types (no inline object type of its own), the annotation is converted instead.
import ts from 'typescript';
import { Converter, ReflectionKind, ReflectionType } from 'typedoc';

/** The types inside a converted type (TypeDoc's `SomeType` variants that hold others). */
function innerTypes(type) {
  switch (type.type) {
    case 'array':
    case 'optional':
    case 'rest':
      return [type.elementType];
    case 'union':
    case 'intersection':
      return type.types;
    case 'reference':
      return type.typeArguments ?? [];
    case 'tuple':
      return type.elements;
    case 'namedTupleMember':
      return [type.element];
    case 'typeOperator':
      return [type.target];
    case 'indexedAccess':
      return [type.objectType, type.indexType];
    case 'conditional':
      return [type.checkType, type.extendsType, type.trueType, type.falseType];
    case 'mapped':
      return [type.parameterType, type.templateType, type.nameType].filter(Boolean);
    case 'predicate':
      return type.targetType ? [type.targetType] : [];
    case 'templateLiteral':
      return type.tail.map(([inner]) => inner);
    default:
      return [];
  }
}

/** Whether a converted type contains an inline object type (a ReflectionType), at any depth. */
function hasInlineObject(type) {
  if (type === undefined) return false;
  return type instanceof ReflectionType || innerTypes(type).some(hasInlineObject);
}

/** Whether a type annotation written in the source has an object type literal (or mapped type) of its own. */
function writesInlineObject(node) {
  let found = false;
  const visit = (child) => {
    if (found) return;
    if (ts.isTypeLiteralNode(child) || ts.isMappedTypeNode(child)) found = true;
    else ts.forEachChild(child, visit);
  };
  visit(node);
  return found;
}

/**
 * Replace `owner.type` by the conversion of `typeNode`, removing the inline reflections of the old
 * one. `context` is the context of `owner`'s parent.
 */
function convertAsWritten(context, owner, typeNode) {
  if (!typeNode || writesInlineObject(typeNode) || !hasInlineObject(owner.type)) return;
  const project = context.project;
  const stale = project.getReflectionsByKind(ReflectionKind.TypeLiteral).filter((r) => r.parent === owner);
  for (const reflection of stale) project.removeReflection(reflection);
  owner.type = context.converter.convertType(context.withScope(owner), typeNode);
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_SIGNATURE, (context, signature, declaration) => {
    if (!signature.kindOf(ReflectionKind.CallSignature) || declaration === undefined) return;
    convertAsWritten(context, signature, declaration.type);
    // Parameters too (`request$(request: RequestInput)`), now that the signature has them.
    const inSignature = context.withScope(signature);
    for (const parameter of signature.parameters ?? []) {
      const node = context.getSymbolFromReflection(parameter)?.valueDeclaration;
      if (node !== undefined && ts.isParameter(node)) convertAsWritten(inSignature, parameter, node.type);
    }
  });
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Property)) return;
    const declaration = context.getSymbolFromReflection(reflection)?.valueDeclaration;
    if (declaration === undefined || !(ts.isPropertySignature(declaration) || ts.isPropertyDeclaration(declaration))) return;
    convertAsWritten(context, reflection, declaration.type);
  });
}
