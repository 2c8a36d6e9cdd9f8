// The lab's Java client, in the Apigee message processor's role: one HTTPS request over JSSE.
//
// java LabClient <connect-port> <host-name> <truststore> <storepass> [protocols] [keystore]
//
// It connects to 127.0.0.1:<connect-port> (the lab's recording relay) but verifies and asks
// for <host-name>, as a client calling a backend by name does. SNI follows JSSE's own rules
// (off with -Djsse.enableSNIExtension=false). Exit code 0 on a response, 1 on an SSL failure.
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class LabClient {
    static KeyStore load(String path, String pass) throws Exception {
        KeyStore ks = KeyStore.getInstance(path.endsWith(".jks") ? "JKS" : "PKCS12");
        try (InputStream in = new FileInputStream(path)) {
            ks.load(in, pass.toCharArray());
        }
        return ks;
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String host = args[1];
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(load(args[2], args[3]));
        KeyManagerFactory kmf = null;
        if (args.length > 5 && !args[5].isEmpty()) {
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(load(args[5], args[3]), args[3].toCharArray());
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        Socket raw = new Socket("127.0.0.1", port);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, 443, true)) {
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            if (args.length > 4 && !args[4].isEmpty()) {
                p.setProtocols(args[4].split(","));
            }
            s.setSSLParameters(p);
            s.startHandshake();
            OutputStream out = s.getOutputStream();
            out.write(("GET /v1/health HTTP/1.1\r\nHost: " + host
                    + "\r\nUser-Agent: tlskit-lab-java\r\nAccept: */*\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            int n = in.read(buf);
            System.out.println("RESPONSE " + (n > 0 ? new String(buf, 0, n, StandardCharsets.US_ASCII).split("\r\n")[0] : "none"));
        } catch (javax.net.ssl.SSLException e) {
            System.out.println("SSLFAIL " + e);
            System.exit(1);
        }
    }
}
