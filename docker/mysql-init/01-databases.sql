-- One database per service (DESIGN §2), created on the first start of an empty volume. The image creates the colony
-- account from its environment (MYSQL_USER, MYSQL_PASSWORD) before it runs this script; here it gets each database.
-- utf8mb4_bin: the collation the services' tables are defined with (lib/db/sequelize.ts).
CREATE DATABASE IF NOT EXISTS colony_users CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON colony_users.* TO 'colony'@'%';
CREATE DATABASE IF NOT EXISTS colony_chat CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON colony_chat.* TO 'colony'@'%';
CREATE DATABASE IF NOT EXISTS colony_tasks CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON colony_tasks.* TO 'colony'@'%';
CREATE DATABASE IF NOT EXISTS colony_notifications CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON colony_notifications.* TO 'colony'@'%';
CREATE DATABASE IF NOT EXISTS colony_knowledge CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON colony_knowledge.* TO 'colony'@'%';
