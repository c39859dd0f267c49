// A fleetd agent written from proto/fleet/v1/agent.proto alone, with standard libraries only:
// @grpc/grpc-js for the stream, fast-json-patch for RFC 6902 and canonicalize for RFC 8785. It
// checks that an agent in another language can follow fleetd's policy updates and reproduce
// their hashes. It prints one JSON line per event on stdout.
//
//   node agent.mjs --addr 127.0.0.1:PORT --token fenr_... [--hostname NAME]
import crypto from 'node:crypto';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import canonicalize from 'canonicalize';
import jsonpatch from 'fast-json-patch';

const here = path.dirname(fileURLToPath(import.meta.url));
const protoRoot = path.resolve(here, '../../../proto');

function parseArgs(argv) {
  const args = {hostname: 'js-agent'};
  for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (!args.addr || !args.token) throw new Error('usage: agent.mjs --addr HOST:PORT --token TOKEN');
  return args;
}

function emit(event) { process.stdout.write(JSON.stringify(event) + '\n'); }

function sha256Hex(text) { return crypto.createHash('sha256').update(text, 'utf8').digest('hex'); }

const args = parseArgs(process.argv.slice(2));
const definition = protoLoader.loadSync('fleet/v1/agent.proto', {
  includeDirs: [protoRoot], keepCase: true, longs: Number, enums: String, defaults: true,
  oneofs: true,
});
const fleet = grpc.loadPackageDefinition(definition).fleet.v1;
const client = new fleet.AgentService(args.addr, grpc.credentials.createInsecure());

// What is applied: the policy, its revision, the document and the hash of its canonical form.
let applied = {policy: '', revision: 0, document: null, sha256: ''};
let identity = null;
let stopping = false;
let stream = null;
let heartbeat = null;
let backoffMs = 500;

// The document `update` leads to from what is applied, or an Error saying why not.
function apply(update) {
  if (update.kind === 'FULL') return JSON.parse(update.document_json);
  if (update.kind !== 'DELTA') throw new Error(`unknown update kind ${update.kind}`);
  if (update.policy !== applied.policy || update.base_revision !== applied.revision) {
    const error = new Error(`base ${update.base_revision} is not what is applied`);
    error.needsFull = true;
    throw error;
  }
  const copy = jsonpatch.deepClone(applied.document);
  return jsonpatch.applyPatch(copy, JSON.parse(update.patch_json), true, true).newDocument;
}

function onUpdate(update) {
  let document;
  try {
    document = apply(update);
  } catch (error) {
    emit({event: 'nack', revision: update.target_revision, reason: error.message});
    stream.write({nack: {revision: update.target_revision, reason: String(error.message),
                         needs_full: true}});
    return;
  }
  const sha256 = sha256Hex(canonicalize(document));
  if (sha256 !== update.sha256) {
    emit({event: 'nack', revision: update.target_revision, reason: 'hash mismatch',
          kind: update.kind, computed: sha256, expected: update.sha256});
    stream.write({nack: {revision: update.target_revision, reason: 'hash mismatch',
                         needs_full: true}});
    return;
  }
  applied = {policy: update.policy, revision: update.target_revision, document, sha256};
  emit({event: 'applied', revision: applied.revision, kind: update.kind, sha256,
        bytes: (update.kind === 'FULL' ? update.document_json : update.patch_json).length});
  stream.write({ack: {revision: applied.revision, sha256}});
}

function connect() {
  const metadata = new grpc.Metadata();
  metadata.set('x-fleet-agent-id', identity.agent_id);
  metadata.set('authorization', `Bearer ${identity.agent_secret}`);
  stream = client.Connect(metadata);
  stream.write({hello: {policy: applied.policy, applied_revision: applied.revision,
                        applied_sha256: applied.sha256}});
  stream.on('data', (message) => {
    backoffMs = 500;
    if (message.welcome) {
      const interval = message.welcome.heartbeat_interval;
      const ms = Number(interval.seconds) * 1000 + Math.floor(interval.nanos / 1e6);
      clearInterval(heartbeat);
      heartbeat = setInterval(() => stream.write({heartbeat: {}}), Math.max(ms, 100));
      emit({event: 'welcome', policy: message.welcome.policy});
    } else if (message.policy_update) {
      onUpdate(message.policy_update);
    } else if (message.go_away) {
      stream.end();
    }
  });
  stream.on('error', (error) => emit({event: 'stream-error', code: error.code,
                                      details: error.details}));
  stream.on('close', () => {
    clearInterval(heartbeat);
    if (stopping) return;
    const delay = backoffMs * (0.5 + Math.random());
    backoffMs = Math.min(backoffMs * 2, 30000);
    setTimeout(connect, delay);
  });
}

process.on('SIGTERM', () => {
  stopping = true;
  clearInterval(heartbeat);
  if (stream) stream.end();
  client.close();
  setTimeout(() => process.exit(0), 200);
});

client.Enroll({enrollment_token: args.token,
               facts: {hostname: args.hostname, os: 'linux', arch: 'amd64',
                       agent_version: 'js-1.0.0'}},
              (error, response) => {
                if (error) {
                  emit({event: 'enroll-error', code: error.code, details: error.details});
                  process.exit(1);
                }
                identity = response;
                emit({event: 'enrolled', agent_id: response.agent_id});
                connect();
              });
