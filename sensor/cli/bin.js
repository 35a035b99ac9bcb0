#!/usr/bin/env node
// `npx edge-sensor …`: load TypeScript through tsx, then run the CLI.
import { register } from 'tsx/esm/api';
register();
await import('./main.ts');
