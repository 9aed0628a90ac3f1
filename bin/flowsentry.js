#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx is a runtime dependency; there is no build step).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
