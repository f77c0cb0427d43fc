#!/usr/bin/env node
// cusnn-gen: from a model and a GPU architecture to a folder of specialized CUDA kernels.
import { installPipeHandlers, main } from './cli/main.js';

installPipeHandlers();
process.exitCode = await main(process.argv.slice(2));
