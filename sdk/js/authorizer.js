// A Portico authorizer in JavaScript: the `authorizer` world of wit/ (portico:plugin@0.1.3),
// built into a component by componentize-js (see build.sh).
//
// `authorize(request, methodArn)` gets the WIT `request-head` in jco's representation
// (camelCase fields; `headers`, `query`, `pathParameters`, `stageVariables` are arrays of
// `[name, value]`) and this request's method ARN, and returns the `decision` variant:
//
//   { tag: 'allow', val: { principalId, context: [[key, value], ...], usageIdentifierKey } }
//   { tag: 'unauthorized' }
//   { tag: 'forbidden', val: undefined }          // or a message string
//   { tag: 'custom', val: { status, headers, body: Uint8Array } }
//   { tag: 'lambda-output', val: JSON.stringify(lambdaAuthorizerResult) }
//
// `lambda-output` is how Lambda authorizer code ports unchanged: return what the Lambda returned
// (`principalId`, `policyDocument`, `context`, `usageIdentifierKey`, or an HTTP API simple
// response `{isAuthorized, context}`), and the gateway evaluates the policy against each
// request's method ARN.
//
// Tokens are fixed here (no config): `authorization: js-allow` allows principal `js-user`,
// `js-policy` returns a policy allowing this method only, `js-deny` is forbidden, anything else
// (or no header) is unauthorized.
//
// Host capabilities are ES imports, e.g.
//   import { write } from 'portico:plugin/log@0.1.3';
// Only import what you use: the gateway deploys a plugin only if its route grants every
// capability the component imports.

/** The first value of header `name`, whatever its case. */
function header(request, name) {
  const wanted = name.toLowerCase();
  const found = request.headers.find(([key]) => key.toLowerCase() === wanted);
  return found ? found[1] : undefined;
}

export function authorize(request, methodArn) {
  const token = header(request, 'authorization');
  if (token === 'js-policy') {
    const output = {
      principalId: 'js-user',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: methodArn }],
      },
      context: { scope: 'read', level: 2, admin: false },
    };
    return { tag: 'lambda-output', val: JSON.stringify(output) };
  }
  if (token === 'js-allow') {
    return {
      tag: 'allow',
      val: {
        principalId: 'js-user',
        context: [['scope', 'read']],
        usageIdentifierKey: undefined,
      },
    };
  }
  if (token === 'js-deny') {
    return { tag: 'forbidden', val: undefined };
  }
  return { tag: 'unauthorized' };
}
