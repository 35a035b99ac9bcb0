// Worker entry that loads a TypeScript module through tsx (workers do not
// inherit the parent's --import loader in Node 20).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
