// Drift test: the SDK's types against the server's own description of its
// API (`GET /api/v1/openapi.json` from a running server).
//
// Three lists must agree for every object the SDK sends or receives:
//   1. the interfaces in types/index.d.ts (read with the TypeScript
//      compiler API, so what is checked is what users compile against);
//   2. the field tables in src/fields.js, which the code maps through;
//   3. the OpenAPI schemas, after renaming through those tables.
// Answers must match exactly (a field added to the server shows up here);
// every field sent must exist in the request schema.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import ts from 'typescript';
import * as fields from '../src/fields.js';
import { startServer } from './server.js';

let server;
let openapi;
before(async () => {
  server = await startServer();
  const response = await fetch(`${server.url}/api/v1/openapi.json`);
  assert.equal(response.status, 200);
  openapi = await response.json();
});
after(() => server?.stop());

// ------------------------------------------------------- the declarations

/** Every interface in a .d.ts: name → {property name → optional?}, `extends` included. */
function interfaces(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const own = new Map();
  const parents = new Map();
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node)) return;
    const props = new Map();
    for (const member of node.members) {
      if (ts.isPropertySignature(member)) props.set(member.name.getText(source), Boolean(member.questionToken));
    }
    own.set(node.name.text, props);
    parents.set(
      node.name.text,
      (node.heritageClauses ?? []).flatMap((clause) => clause.types.map((t) => t.expression.getText(source))),
    );
  });
  const all = (name) => new Map([...(parents.get(name) ?? []).flatMap((p) => [...all(p)]), ...own.get(name)]);
  return new Map([...own.keys()].map((name) => [name, all(name)]));
}

const declared = interfaces(new URL('../types/index.d.ts', import.meta.url).pathname);

// ------------------------------------------------------- the OpenAPI side

function deref(schema) {
  while (schema?.$ref) {
    const path = schema.$ref.replace(/^#\//, '').split('/');
    schema = path.reduce((node, key) => node[key], openapi);
  }
  return schema;
}

/** An object schema's properties and required names, through $ref, allOf and a nullable oneOf. */
function shape(schema) {
  schema = deref(schema);
  const properties = new Map();
  const required = new Set(schema.required ?? []);
  for (const part of schema.allOf ?? []) {
    const inner = shape(part);
    for (const [name, value] of inner.properties) properties.set(name, value);
    for (const name of inner.required) required.add(name);
  }
  const alternatives = (schema.oneOf ?? schema.anyOf ?? []).filter((s) => deref(s).type !== 'null');
  if (alternatives.length === 1) return shape(alternatives[0]);
  for (const [name, value] of Object.entries(schema.properties ?? {})) properties.set(name, value);
  return { properties, required };
}

const json = (content) => content['application/json'].schema;
const operation = (method, path) => {
  const op = openapi.paths[`/api/v1${path}`]?.[method];
  assert.ok(op, `the server documents ${method.toUpperCase()} ${path}`);
  return op;
};
const requestOf = (method, path) => shape(json(operation(method, path).requestBody.content));
const answerOf = (method, path, status) => shape(json(operation(method, path).responses[status].content));

// ------------------------------------------------------------ the checks

/**
 * @param {string} iface the .d.ts interface
 * @param {Record<string, string>} table its field table in src/fields.js
 * @param {{properties: Map, required: Set}} schema
 * @param {'answer' | 'request'} kind
 * @param {string[]} [extra] SDK-side names sent outside the interface (verify's `token` argument)
 */
function compare(iface, table, schema, kind, extra = []) {
  const props = declared.get(iface);
  assert.ok(props, `types/index.d.ts declares ${iface}`);
  assert.deepEqual(
    [...props.keys(), ...extra].sort(),
    Object.keys(table).sort(),
    `${iface} in types/index.d.ts and its table in src/fields.js list the same fields`,
  );
  const wire = Object.values(table).sort();
  const documented = [...schema.properties.keys()].sort();
  if (kind === 'answer') {
    assert.deepEqual(wire, documented, `${iface}: the SDK's fields are exactly the server's`);
    for (const [name, wireName] of Object.entries(table)) {
      if (schema.required.has(wireName)) {
        assert.equal(props.get(name), false, `${iface}.${name} is always sent, so it must not be optional`);
      }
    }
  } else {
    for (const name of wire) assert.ok(documented.includes(name), `${iface}: the server accepts \`${name}\``);
    for (const name of schema.required) {
      assert.ok(wire.includes(name), `${iface}: the server requires \`${name}\``);
      const sdkName = Object.keys(table).find((key) => table[key] === name);
      if (!extra.includes(sdkName)) assert.equal(props.get(sdkName), false, `${iface}.${sdkName} is required`);
    }
  }
}

test('verify: the answer and the verified token', () => {
  const answer = answerOf('post', '/verify', '200');
  compare('VerifyResult', fields.VERIFY_RESULT, answer, 'answer');
  compare('VerifiedToken', fields.VERIFIED_TOKEN, shape(answer.properties.get('token')), 'answer');
});

test('verify: the question', () => {
  compare('VerifyOptions', fields.VERIFY_REQUEST, requestOf('post', '/verify'), 'request', ['token']);
});

test('token metadata, as listed and read', () => {
  const list = answerOf('get', '/tokens', '200');
  compare('TokenMetadata', fields.TOKEN_METADATA, shape(list.properties.get('items').items), 'answer');
  compare('TokenMetadata', fields.TOKEN_METADATA, answerOf('get', '/tokens/{id}', '200'), 'answer');
});

test('a created or rotated token', () => {
  compare('CreatedToken', fields.CREATED_TOKEN, answerOf('post', '/tokens', '201'), 'answer');
  compare('CreatedToken', fields.CREATED_TOKEN, answerOf('post', '/tokens/{id}/rotate', '200'), 'answer');
});

test('create and rotate: the request bodies', () => {
  compare('CreateTokenOptions', fields.CREATE_TOKEN_REQUEST, requestOf('post', '/tokens'), 'request');
  compare('RotateTokenOptions', fields.ROTATE_TOKEN_REQUEST, requestOf('post', '/tokens/{id}/rotate'), 'request');
});

test('the check itself catches drift', () => {
  // A field the server does not have, and one the SDK lacks, must both fail.
  const answer = answerOf('post', '/verify', '200');
  const extraField = { ...fields.VERIFIED_TOKEN, email: 'email' };
  assert.throws(() => compare('VerifiedToken', extraField, shape(answer.properties.get('token')), 'answer'));
  const token = shape(answer.properties.get('token'));
  const grown = { properties: new Map([...token.properties, ['email', {}]]), required: token.required };
  assert.throws(() => compare('VerifiedToken', fields.VERIFIED_TOKEN, grown, 'answer'));
});
