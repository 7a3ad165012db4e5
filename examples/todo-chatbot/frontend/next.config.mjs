// Plain ESM (not next.config.ts), so the standalone server does not need the
// TypeScript compiler at run time and the output stays small.

/** @type {import('next').NextConfig} */
const nextConfig = {
  // One self-contained server (.next/standalone/server.js) for the image.
  output: "standalone",
  poweredByHeader: false,
  // No next/image optimisation: the server never needs sharp/libvips.
  images: { unoptimized: true },
  outputFileTracingExcludes: {
    "*": ["node_modules/sharp/**", "node_modules/@img/**", "node_modules/typescript/**"],
  },
};

export default nextConfig;
