// The token endpoint as APS "simple viewer" tutorials write it, in Express: the
// baseline for bench/run.sh. Deliberately naive, because that is the pattern being
// measured: one global cached credential, checked against expires_at on each
// request, and a fresh upstream POST whenever it has expired. Concurrent requests
// that find it expired each make their own POST (no single-flight), and a token
// is served until the very millisecond it expires (no refresh-ahead, no margin).
//
//   PORT=3001 TOKEN_URL=http://127.0.0.1:4000/token CLIENT_ID=id CLIENT_SECRET=secret node server.mjs
import express from 'express';

const { PORT = 3000, TOKEN_URL, CLIENT_ID, CLIENT_SECRET, SCOPE = 'viewables:read' } = process.env;

let credentials = null;

async function getPublicToken() {
    if (!credentials || credentials.expires_at < Date.now()) {
        const resp = await fetch(TOKEN_URL, {
            method: 'POST',
            headers: {
                'Authorization': 'Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64'),
                'Content-Type': 'application/x-www-form-urlencoded',
            },
            body: new URLSearchParams({ grant_type: 'client_credentials', scope: SCOPE }),
        });
        if (!resp.ok) {
            throw new Error(`Could not get token: ${resp.status} ${await resp.text()}`);
        }
        credentials = await resp.json();
        credentials.expires_at = Date.now() + credentials.expires_in * 1000;
    }
    return {
        access_token: credentials.access_token,
        token_type: credentials.token_type,
        expires_in: Math.round((credentials.expires_at - Date.now()) / 1000),
    };
}

const app = express();

app.get('/api/auth/token', async function (req, res, next) {
    try {
        res.json(await getPublicToken());
    } catch (err) {
        next(err);
    }
});

app.listen(PORT, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${PORT}`));
