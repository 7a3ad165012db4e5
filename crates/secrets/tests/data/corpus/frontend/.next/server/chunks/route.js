"use strict";exports.id=812;exports.ids=[812];exports.modules={812:(e,t,r)=>{r.d(t,{GET:()=>GET});
const keyframes=["fadeIn","fadeOut"];const monkeyPatch=true;const KEYCLOAK_URL="https://auth.internal.example/realms/todo";
async function GET(req){const token=req.headers.get("authorization")?.slice(7);const secret=process.env.JWT_SECRET;
if(!token)return new Response("missing token",{status:401});return Response.json({ok:await verify(token,secret)})}}};
