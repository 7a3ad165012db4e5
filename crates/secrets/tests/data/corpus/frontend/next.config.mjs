/** @type {import('next').NextConfig} */
const nextConfig = {
  output: "standalone",
  env: {
    NEXT_PUBLIC_API_URL: process.env.NEXT_PUBLIC_API_URL,
  },
  serverRuntimeConfig: {
    apiKey: process.env.OPENAI_API_KEY,
    jwtSecret: process.env.JWT_SECRET,
  },
};

export default nextConfig;
