// Prints, as one JSON object {operationName: document}, every GraphQL document that the
// installed @stigg/api-client-js (the Stigg Node SDK's client) defines. The sandbox's schema
// subset records which fields those documents select (see stiggctl.sandbox.stigg.subset).
'use strict';

const generatedPath = require.resolve('@stigg/api-client-js/src/generated/sdk');
const generated = require(generatedPath);
// The graphql package that built those documents, wherever npm placed it.
const { print } = require(require.resolve('graphql', { paths: [generatedPath] }));

const documents = {};
for (const [name, value] of Object.entries(generated)) {
  if (name.endsWith('Document') && value && value.kind === 'Document') {
    documents[name.slice(0, -'Document'.length)] = print(value);
  }
}
process.stdout.write(`${JSON.stringify(documents, null, 1)}\n`);
